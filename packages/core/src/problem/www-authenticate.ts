import type { BearerErrorCode, DpopErrorCode } from '../errors/index.js'

/** Parameters of a `WWW-Authenticate` challenge, RFC 6750 §3 and RFC 9449 §7.1. */
export interface ChallengeParams {
  /** Authentication scheme; `Bearer` unless a sender-constrained scheme (DPoP) applies. */
  scheme?: string
  realm?: string | undefined
  error?: BearerErrorCode | DpopErrorCode | undefined
  errorDescription?: string | undefined
  /** Scopes the resource needs (`insufficient_scope`). */
  scope?: readonly string[] | undefined
  /** JWS algorithms accepted in DPoP proofs (RFC 9449 §7.1 `algs`). */
  algs?: readonly string[] | undefined
  /** Acceptable authentication context classes (RFC 9470 §3 `acr_values`). */
  acrValues?: readonly string[] | undefined
  /** Largest accepted authentication age in seconds (RFC 9470 §3 `max_age`). */
  maxAge?: number | undefined
  /** URL of the protected resource metadata (RFC 9728 §5.1 `resource_metadata`). */
  resourceMetadata?: string | undefined
}

const MAX_PARAM_LENGTH = 512

// RFC 6750 §3: error and error_description are limited to %x20-21 / %x23-5B / %x5D-7E,
// i.e. printable ASCII without `"` and `\`. Anything else is dropped, never escaped, so no
// input can end the quoted string or the header line.
function errorText(value: string): string {
  let out = ''
  for (let i = 0; i < value.length && out.length < MAX_PARAM_LENGTH; i++) {
    const c = value.charCodeAt(i)
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) out += value[i]
  }
  return out
}

// RFC 6750 §3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), tokens separated by one space.
function scopeText(scopes: readonly string[]): string {
  const tokens: string[] = []
  for (const scope of scopes) {
    let token = ''
    for (let i = 0; i < scope.length; i++) {
      const c = scope.charCodeAt(i)
      if (c >= 0x21 && c <= 0x7e && c !== 0x22 && c !== 0x5c) token += scope[i]
    }
    if (token.length > 0) tokens.push(token)
  }
  return tokens.join(' ').slice(0, MAX_PARAM_LENGTH)
}

// RFC 7235 §2.2 / RFC 9110 §5.6.4: realm is a quoted-string. Printable ASCII only (no CR, LF,
// NUL, or obs-text), with `"` and `\` sent as quoted-pairs.
function quotedString(value: string): string {
  let out = ''
  for (let i = 0; i < value.length && out.length < MAX_PARAM_LENGTH; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20 || c > 0x7e) continue
    out += c === 0x22 || c === 0x5c ? `\\${value[i]}` : value[i]
  }
  return `"${out}"`
}

// A scheme is an RFC 9110 token; anything else falls back to Bearer.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * Renders a `WWW-Authenticate` challenge (RFC 6750 §3) with every value escaped so that no
 * input can inject a header or a parameter.
 *
 * @example
 * ```ts
 * formatChallenge({ realm: 'videos', error: 'insufficient_scope', scope: ['videos:read'] })
 * // 'Bearer realm="videos", error="insufficient_scope", scope="videos:read"'
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function formatChallenge(params: ChallengeParams): string {
  const scheme = params.scheme !== undefined && TOKEN.test(params.scheme) ? params.scheme : 'Bearer'
  const parts: string[] = []
  if (params.realm !== undefined) parts.push(`realm=${quotedString(params.realm)}`)
  if (params.error !== undefined) {
    parts.push(`error="${errorText(params.error)}"`)
    if (params.errorDescription !== undefined) {
      parts.push(`error_description="${errorText(params.errorDescription)}"`)
    }
  }
  if (params.scope !== undefined && params.scope.length > 0) {
    parts.push(`scope="${scopeText(params.scope)}"`)
  }
  // RFC 9449 §7.1: algs is a space-delimited list of JWS alg values, tokens like scopes.
  if (params.algs !== undefined && params.algs.length > 0) {
    parts.push(`algs="${scopeText(params.algs)}"`)
  }
  // RFC 9470 §3: acr_values is space-separated like scope (its values are held to the same
  // characters at startup); max_age a whole number of seconds.
  if (params.acrValues !== undefined && params.acrValues.length > 0) {
    parts.push(`acr_values="${scopeText(params.acrValues)}"`)
  }
  if (params.maxAge !== undefined && Number.isSafeInteger(params.maxAge) && params.maxAge >= 0) {
    parts.push(`max_age="${params.maxAge}"`)
  }
  // RFC 9728 §5.1: where a client finds how to get a token for this resource.
  if (params.resourceMetadata !== undefined) {
    parts.push(`resource_metadata=${quotedString(params.resourceMetadata)}`)
  }
  return parts.length === 0 ? scheme : `${scheme} ${parts.join(', ')}`
}
