import type { Principal } from '@portcullis/core'
import type { JWK, KeyInput } from 'jose'

/**
 * One trusted token issuer: who it is, for whom its tokens are, how they are signed, and where
 * its keys come from (exactly one of `jwksUri`, `jwks`, `keys`).
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#issuers
 */
export interface TokensIssuerOptions {
  /**
   * The exact `iss` of this issuer's tokens. It picks the issuer's keys before verification and
   * must equal the verified `iss` (RFC 7519 §4.1.1). Unique among issuers.
   */
  issuer: string
  /** This service's identifier: a token's `aud` must contain it (or one of them), RFC 7519 §4.1.3. */
  audience: string | string[]
  /**
   * The JWS algorithms accepted, required and non-empty: there is no default of "any"
   * (RFC 8725 §3.1). `none` is never accepted. HMAC (`HS*`) and asymmetric algorithms cannot be
   * mixed in one issuer, and `HS*` needs `keys` or `jwks` holding secrets.
   */
  algorithms: string[]
  /**
   * URL of the issuer's JWKS (RFC 7517 §5): `https:`, or `http:` only for a loopback host
   * (127.0.0.1, ::1, localhost). Fetched lazily, cached, refreshed; see {@link TokensJwksOptions}.
   */
  jwksUri?: string
  /** A JWKS object held in memory: public keys, or `oct` secrets for `HS*`. */
  jwks?: { keys: JWK[] }
  /** Keys held in memory: public CryptoKeys or KeyObjects, public JWKs, or secrets for `HS*`. */
  keys?: KeyInput[]
  /**
   * Required `typ` header, e.g. `'at+jwt'` for RFC 9068 access tokens; compared
   * case-insensitively, with or without the `application/` prefix (RFC 9068 §4).
   */
  typ?: string
  /** Claims that must be present in addition to `exp` and `sub`, which always are. */
  requiredClaims?: string[]
  /**
   * Largest accepted age of a token from its `iat`: seconds, or a span such as `'1h'`. Makes
   * `iat` required.
   */
  maxTokenAge?: string | number
}

/**
 * How remote key sets (`jwksUri`) are fetched and cached. Durations are in milliseconds.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#jwks
 */
export interface TokensJwksOptions {
  /**
   * Minimum time between two fetches of one JWKS: after a successful fetch (a token with an
   * unknown `kid` refetches at most this often) and after a failed one (an endpoint that is down
   * is not hammered). Default 30000, from 1000 to 3600000.
   */
  cooldown?: number
  /**
   * Age after which a fetched JWKS is refreshed before use. Also bounds how long a cached token
   * verification outlives the removal of its key. Default 600000, from 1000 to 86400000.
   */
  cacheMaxAge?: number
  /** Timeout of one JWKS request, body included. Default 5000, from 100 to 60000. */
  timeout?: number
  /** Largest JWKS response accepted, in bytes. Default 262144 (256 KiB), from 1024 to 4 MiB. */
  maxBytes?: number
  /**
   * How long past `cacheMaxAge` the last fetched keys keep verifying while refreshes fail
   * (the endpoint is down, slow, or answers garbage). `0` turns it off. Default 3600000, at most
   * 604800000 (7 days).
   */
  staleIfError?: number
}

/**
 * Options of the token verifier: `tokens` in the `@portcullis/fastify` options.
 *
 * @example
 * ```ts
 * const options: TokensOptions = {
 *   issuers: [{
 *     issuer: 'https://auth.internal',
 *     audience: 'videos-api',
 *     algorithms: ['ES256'],
 *     jwksUri: 'https://auth.internal/.well-known/jwks.json',
 *     typ: 'at+jwt',
 *   }],
 * }
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#options
 */
export interface TokensOptions {
  /** Trusted issuers, at least one. A token from any other `iss` is refused without a fetch. */
  issuers: TokensIssuerOptions[]
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`. Default 5, an integer from 0 to 300. */
  clockTolerance?: number
  /**
   * Longest token accepted, in bytes; longer ones are refused before any parsing. Default 8192,
   * an integer from 256 to 65536.
   */
  maxTokenBytes?: number
  /**
   * The cache of verified tokens, so that a token seen before costs a lookup instead of a
   * signature check. Entries end at the token's `exp` minus `clockTolerance`, are never created
   * for failures, and stop being served once a refreshed JWKS drops their key. `max` bounds the
   * entries (an integer from 1 to 1000000; no unbounded cache); `false` turns caching off.
   * Default `{ max: 10000 }`.
   */
  cache?: { max: number } | false
  /** Remote JWKS fetching and caching, for every issuer with a `jwksUri`. */
  jwks?: TokensJwksOptions
  /**
   * Consulted after verification on every call, cache hits included; `true` refuses the token
   * (`PCL_TOKEN_REVOKED`). A throw or rejection fails closed with a 503.
   */
  isRevoked?: (principal: Principal) => boolean | Promise<boolean>
  /** `realm` of the `WWW-Authenticate` challenge (RFC 6750 §3). */
  realm?: string
}
