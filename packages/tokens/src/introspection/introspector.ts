import { createHash } from 'node:crypto'
import { AuthenticationError, DependencyError, type Principal } from '@portcullis/core'
import type { JWTPayload } from 'jose'
import { LRUCache } from 'lru-cache'
import { z } from 'zod'
import { buildPrincipal } from '../lib/principal.js'
import { readLimited } from '../lib/read-limited.js'
import type { ResolvedIntrospection } from '../options/resolve-tokens-options.js'
import { tokensDefaults } from '../options/tokens-options-schema.js'

/** Asks the introspection issuer about opaque tokens, with a bounded cache and single-flight. */
export interface Introspector {
  /**
   * The principal of an active token: synchronous on a cache hit, else a promise. Throws
   * `PCL_TOKEN_INVALID` / `PCL_TOKEN_EXPIRED` for a token the endpoint does not vouch for, and
   * `PCL_INTROSPECTION_UNAVAILABLE` when the endpoint cannot answer.
   */
  verify(token: string): Principal | Promise<Principal>
}

interface Answer {
  readonly principal: Principal
  /** Milliseconds since the epoch after which the answer is not reused. */
  readonly expiresAt: number
}

const decoder = new TextDecoder('utf-8', { fatal: true })

const numericDate = z.number().finite()

// RFC 7662 §2.2: only `active` is required; the other members are checked when present, and
// extensions (acr, auth_time, cnf, ...) pass through to the principal's claims.
const responseSchema = z.looseObject({
  active: z.boolean(),
  scope: z.string().optional(),
  client_id: z.string().optional(),
  sub: z.string().min(1).optional(),
  exp: numericDate.optional(),
  iat: numericDate.optional(),
  nbf: numericDate.optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  iss: z.string().optional(),
  token_type: z.string().optional(),
})

function invalid(message: string): AuthenticationError {
  return new AuthenticationError('PCL_TOKEN_INVALID', { message })
}

function unavailable(message: string, cause?: unknown): DependencyError {
  return new DependencyError('PCL_INTROSPECTION_UNAVAILABLE', {
    message,
    ...(cause === undefined ? {} : { cause }),
  })
}

// RFC 6749 §2.3.1: the client id and secret are form-encoded before they are joined for Basic.
function formEncoded(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2)
}

function isTimeout(cause: unknown): boolean {
  const name = (cause as { name?: unknown } | null)?.name
  return name === 'TimeoutError' || name === 'AbortError'
}

/**
 * Creates the introspector of one issuer (RFC 7662). Answers are cached by a hash of the token
 * (the token itself is never a key, a log line or an error message), for at most `cacheTtl` and
 * never past the token's `exp` minus `clockTolerance`; `cacheMax` bounds the entries. Concurrent
 * requests for one token share one call. Only `active: true` answers are cached.
 */
export function createIntrospector(
  config: ResolvedIntrospection,
  clockTolerance: number,
  cacheMax: number,
): Introspector {
  const cache =
    config.cacheTtl > 0 && cacheMax > 0
      ? new LRUCache<string, Answer>({ max: cacheMax })
      : undefined
  const pending = new Map<string, Promise<Principal>>()
  const audiences = new Set(config.audiences)
  const maxBytes = tokensDefaults.introspection.maxBytes
  const basic =
    config.clientAuth === 'client_secret_basic'
      ? `Basic ${Buffer.from(`${formEncoded(config.clientId)}:${formEncoded(config.clientSecret)}`).toString('base64')}`
      : undefined

  async function ask(token: string): Promise<unknown> {
    const form = new URLSearchParams({ token, token_type_hint: 'access_token' })
    if (basic === undefined) {
      form.set('client_id', config.clientId)
      form.set('client_secret', config.clientSecret)
    }
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
    }
    if (basic !== undefined) headers.authorization = basic
    const signal = AbortSignal.timeout(config.timeout)
    let response: Response
    try {
      // A redirect would carry the token (in the body) somewhere else: refused.
      response = await fetch(config.endpoint, {
        method: 'POST',
        headers,
        body: form.toString(),
        signal,
        redirect: 'error',
      })
    } catch (cause) {
      throw unavailable(
        isTimeout(cause) ? 'Introspection request timed out' : 'Introspection request failed',
        cause,
      )
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined)
      throw unavailable(`Introspection endpoint answered HTTP ${response.status}`)
    }
    let bytes: Uint8Array
    try {
      bytes = await readLimited(response, maxBytes, () =>
        unavailable(`Introspection response larger than ${maxBytes} bytes`),
      )
    } catch (cause) {
      if (cause instanceof DependencyError) throw cause
      throw unavailable(
        isTimeout(cause) ? 'Introspection response timed out' : 'Introspection response cut off',
        cause,
      )
    }
    try {
      return JSON.parse(decoder.decode(bytes)) as unknown
    } catch (cause) {
      throw unavailable('Introspection response is not UTF-8 JSON', cause)
    }
  }

  function admit(body: unknown): Answer {
    const parsed = responseSchema.safeParse(body)
    // An endpoint that answers something other than RFC 7662 cannot vouch for anything: a
    // dependency failure (503), not a verdict on the token.
    if (!parsed.success) throw unavailable('Introspection response is not RFC 7662', parsed.error)
    const answer = parsed.data
    if (!answer.active) throw invalid('Token is not active (introspection)')
    if (answer.iss !== undefined && answer.iss !== config.issuer) {
      throw invalid('Introspection answer names another issuer (iss)')
    }
    const aud =
      answer.aud === undefined ? [] : typeof answer.aud === 'string' ? [answer.aud] : answer.aud
    if (!aud.some((value) => audiences.has(value))) {
      throw invalid('Token audience (aud) is not this service')
    }
    const now = Date.now() / 1000
    if (answer.exp !== undefined && answer.exp <= now - clockTolerance) {
      throw new AuthenticationError('PCL_TOKEN_EXPIRED', { message: 'Token expired (exp)' })
    }
    if (answer.nbf !== undefined && answer.nbf > now + clockTolerance) {
      throw invalid('Token not yet valid (nbf)')
    }
    // RFC 9068 §2.2: a token a client obtained for itself has the client as its subject.
    // The answer as parsed (a fresh object, frozen by buildPrincipal), `iss` filled in when absent.
    const claims = { ...(body as JWTPayload), iss: config.issuer }
    const principal = buildPrincipal(claims, 'scope', answer.client_id)
    let expiresAt = Date.now() + config.cacheTtl
    if (answer.exp !== undefined) {
      expiresAt = Math.min(expiresAt, (answer.exp - clockTolerance) * 1000)
    }
    return { principal, expiresAt }
  }

  async function introspect(key: string, token: string): Promise<Principal> {
    const answer = admit(await ask(token))
    if (cache !== undefined && answer.expiresAt > Date.now()) cache.set(key, answer)
    return answer.principal
  }

  function verify(token: string): Principal | Promise<Principal> {
    const key = createHash('sha256').update(token).digest('base64url')
    const hit = cache?.get(key)
    if (hit !== undefined) {
      if (Date.now() < hit.expiresAt) return hit.principal
      cache!.delete(key)
    }
    let work = pending.get(key)
    if (work === undefined) {
      work = introspect(key, token).finally(() => pending.delete(key))
      pending.set(key, work)
    }
    return work
  }

  return { verify }
}
