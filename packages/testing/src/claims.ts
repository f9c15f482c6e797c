import { randomUUID } from 'node:crypto'
import type { JWTPayload } from 'jose'
import { epochSeconds, toSeconds } from './time-span.js'

/**
 * Claims of a token minted by the test issuer. Any claim not named here goes into the payload as
 * is, and `iss`, `aud`, `iat`, `nbf`, `exp` and `jti` override the defaults. A claim set to
 * `undefined` is left out of the token (`{ sub: undefined }` mints a token without `sub`).
 */
export interface MintOptions {
  /** The subject; default `'user-1'`. */
  sub?: string | undefined
  /** Scopes; an array is joined with spaces into the `scope` claim. */
  scope?: string | readonly string[] | undefined
  /** The OAuth client id (RFC 9068 `client_id`). */
  client_id?: string | undefined
  /**
   * Lifetime from `iat`: seconds or a jose time span (`'5m'`); default `'5m'`. Ignored when `exp`
   * is given; `undefined` mints a token without `exp`.
   */
  expiresIn?: number | string | undefined
  /** Any other claim. */
  [claim: string]: unknown
}

/** The issuer and audience {@link buildPayload} fills in. */
export interface PayloadDefaults {
  /** The `iss` claim. */
  readonly issuer: string
  /** The `aud` claim. */
  readonly audience: string
}

const DEFAULT_LIFETIME = '5m'

/**
 * Builds the payload of a valid access token from an issuer's defaults and the caller's claims:
 * `iss`, `aud`, `sub` (`'user-1'`), `iat` (now), `exp` (`iat` + `expiresIn`, 5 minutes by
 * default) and a random `jti`, overridden by `claims` (`{ jti: undefined }` leaves `jti` out).
 * The test issuer mints with it; {@link signToken} signs it with keys of your own.
 *
 * @example
 * ```ts
 * const payload = buildPayload(
 *   { issuer: 'https://auth.test', audience: 'api' },
 *   { scope: ['videos:read'], client_id: 'search-svc' },
 * )
 * ```
 */
export function buildPayload(
  defaults: PayloadDefaults,
  claims: MintOptions = {},
  now: number = epochSeconds(),
): JWTPayload {
  const payload: Record<string, unknown> = {
    iss: defaults.issuer,
    sub: 'user-1',
    aud: defaults.audience,
    iat: now,
    jti: randomUUID(),
  }
  for (const [name, value] of Object.entries(claims)) {
    if (name === 'expiresIn') continue
    payload[name] = name === 'scope' && Array.isArray(value) ? value.join(' ') : value
  }
  const lifetime = 'expiresIn' in claims ? claims.expiresIn : DEFAULT_LIFETIME
  if (!('exp' in claims) && lifetime !== undefined) {
    const iat = typeof payload.iat === 'number' ? payload.iat : now
    payload.exp = iat + toSeconds(lifetime)
  }
  for (const [name, value] of Object.entries(payload)) {
    if (value === undefined) delete payload[name]
  }
  return payload
}
