import type { FetchImplementation } from 'jose'
import { jwksProblem } from './jwks-problem.js'
import { JwksFetchError } from './key-source.js'
import { readLimited } from './read-limited.js'

type FetchInit = Parameters<FetchImplementation>[1]

const decoder = new TextDecoder('utf-8', { fatal: true })

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Fetches a JWKS document for jose's remote key set and checks everything jose would otherwise
 * accept or reject later: status 200, at most `maxBytes`, UTF-8 JSON, a `keys` array of objects
 * (RFC 7517 §5), and no member that makes the whole set untrustworthy (a private or symmetric key,
 * an RSA key with e ≠ 65537 or over 8192 bits: `jwksProblem`). Returns the body text; every
 * failure is a {@link JwksFetchError}, and the set is then used not at all.
 */
export async function fetchJwks(url: string, init: FetchInit, maxBytes: number): Promise<string> {
  let response: Response
  try {
    response = await fetch(url, init)
  } catch (cause) {
    const timeout = (cause as { name?: unknown } | null)?.name === 'TimeoutError'
    throw timeout
      ? new JwksFetchError('timeout', 'JWKS request timed out', { cause })
      : new JwksFetchError('network', 'JWKS request failed', { cause })
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined)
    throw new JwksFetchError('status', `JWKS endpoint answered HTTP ${response.status}`)
  }
  let bytes: Uint8Array
  try {
    bytes = await readLimited(
      response,
      maxBytes,
      () => new JwksFetchError('too-large', `JWKS response larger than ${maxBytes} bytes`),
    )
  } catch (cause) {
    if (cause instanceof JwksFetchError) throw cause
    const timeout = (cause as { name?: unknown } | null)?.name === 'TimeoutError'
    throw timeout
      ? new JwksFetchError('timeout', 'JWKS response timed out', { cause })
      : new JwksFetchError('network', 'JWKS response was cut off', { cause })
  }
  let text: string
  let json: unknown
  try {
    text = decoder.decode(bytes)
    json = JSON.parse(text)
  } catch (cause) {
    throw new JwksFetchError('not-json', 'JWKS response is not UTF-8 JSON', { cause })
  }
  if (!isObject(json) || !Array.isArray(json.keys) || !json.keys.every(isObject)) {
    throw new JwksFetchError('not-jwks', 'JWKS response is not a JSON Web Key Set')
  }
  const problem = jwksProblem(json.keys)
  if (problem !== undefined) {
    throw new JwksFetchError('unsafe-keys', `JWKS refused as a whole: ${problem}`)
  }
  return text
}
