import type { Duration, Principal } from '@portcullis/core'
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
   *
   * Without it, any JWT this issuer signs for the audience is accepted: an OpenID Connect ID
   * token whose `aud` is this service (its client id) passes as an access token (RFC 8725 §3.11).
   * An issuer without `typ` is therefore reported at startup (a warning in the app's log);
   * `false` accepts any `typ` deliberately and silences it.
   *
   * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#typ
   */
  typ?: string | false
  /** Claims that must be present in addition to `exp` and `sub`, which always are. */
  requiredClaims?: string[]
  /**
   * The claim this issuer's scopes are read from; the other one grants nothing.
   * - `'scope'` (default): RFC 9068 §2.2.3, one space-delimited string. A `scope` of any other
   *   type (`["admin"]`) refuses the token (`PCL_TOKEN_INVALID`): it is never read as a grant.
   * - `'scp'`: the array of strings Okta and Ory issue, or the space-delimited string of
   *   Microsoft Entra. Only for issuers that put their scopes there.
   *
   * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#scopes
   */
  scopeClaim?: 'scope' | 'scp'
  /**
   * Largest accepted age of a token from its `iat`: a whole number of seconds, or a
   * {@link Duration} such as `'1h'` or `'2 days'`. Makes `iat` required.
   */
  maxTokenAge?: Duration
  /**
   * Sender-constrained tokens of this issuer (RFC 9449, DPoP):
   * - `'allowed'` (default): a token bound to a key (`cnf.jkt`) must come with the `DPoP` scheme
   *   and a valid proof of that key, never as `Bearer`; unbound tokens are accepted as `Bearer`.
   * - `'required'`: every token of this issuer must be DPoP-bound and come with a proof; a
   *   `Bearer` token of this issuer is refused (`PCL_DPOP_REQUIRED`).
   *
   * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#dpop
   */
  dpop?: 'required' | 'allowed'
}

/**
 * How an issuer of opaque access tokens is asked about them: its token introspection endpoint
 * (RFC 7662) and this service's client credentials there. Times are milliseconds, or a
 * {@link Duration} string (`'30s'`, `'5 minutes'`).
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#introspection
 */
export interface TokensIntrospectionOptions {
  /**
   * URL of the introspection endpoint (RFC 7662 §2): `https:`, or `http:` only for a loopback
   * host. Asked with `POST`, the token in the form body, never in the URL.
   */
  endpoint: string
  /** This service's client id at the authorization server (RFC 7662 §2.1 requires the caller to authenticate). */
  clientId: string
  /** The client secret. Never logged, never sent anywhere but the endpoint. */
  clientSecret: string
  /**
   * How the client authenticates (RFC 6749 §2.3.1): `'client_secret_basic'` (default, HTTP Basic
   * with the form-encoded id and secret) or `'client_secret_post'` (in the form body).
   */
  clientAuth?: 'client_secret_basic' | 'client_secret_post'
  /**
   * How long an `active: true` answer is reused for the same token, never past the token's `exp`
   * (minus `clockTolerance`). The longer, the fewer calls, and the longer a token revoked at the
   * authorization server keeps working here. `0` asks on every request. Default 60000 (1 minute),
   * at most 86400000. Entries count against `cache.max`; `cache: false` turns this cache off.
   */
  cacheTtl?: Duration
  /**
   * Timeout of one introspection request, body included: past it the request is refused with
   * 503 `PCL_INTROSPECTION_UNAVAILABLE` (unless a cached answer is still valid). Default 5000,
   * from 100 to 60000.
   */
  timeout?: Duration
}

/**
 * An issuer of opaque (non-JWT) access tokens, checked by introspection (RFC 7662) rather than
 * by signature: a bearer token that is not a compact JWS is sent to its endpoint. At most one
 * such issuer; JWT issuers may sit beside it.
 *
 * @example
 * ```ts
 * const issuer: TokensIntrospectionIssuerOptions = {
 *   issuer: 'https://auth.internal',
 *   audience: 'videos-api',
 *   introspection: {
 *     endpoint: 'https://auth.internal/token/introspection',
 *     clientId: 'videos-api',
 *     clientSecret: process.env.INTROSPECTION_SECRET ?? '',
 *   },
 * }
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#introspection
 */
export interface TokensIntrospectionIssuerOptions {
  /**
   * The issuer: the principal's `issuer`. An answer carrying another `iss` refuses the token
   * (`PCL_TOKEN_INVALID`). Unique among issuers.
   */
  issuer: string
  /**
   * This service's identifier: the answer's `aud` must contain it (or one of them). An answer
   * without `aud` refuses the token: configure the authorization server to bind its tokens to
   * this resource (RFC 8707 resource indicators).
   */
  audience: string | string[]
  /** The introspection endpoint and how to call it. */
  introspection: TokensIntrospectionOptions
}

/**
 * How remote key sets (`jwksUri`) are fetched and cached. Times are milliseconds, or a
 * {@link Duration} string (`'30s'`, `'10 minutes'`).
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#jwks
 */
export interface TokensJwksOptions {
  /**
   * Minimum time between two fetches of one JWKS: after a successful fetch (a token with an
   * unknown `kid` refetches at most this often) and after a failed one (an endpoint that is down
   * is not hammered). Default 30000, from 1000 to 3600000.
   */
  cooldown?: Duration
  /**
   * Age after which a fetched JWKS is refreshed before use. Also bounds how long a cached token
   * verification outlives the removal of its key. Default 600000, from 1000 to 86400000.
   */
  cacheMaxAge?: Duration
  /** Timeout of one JWKS request, body included. Default 5000, from 100 to 60000. */
  timeout?: Duration
  /** Largest JWKS response accepted, in bytes. Default 262144 (256 KiB), from 1024 to 4 MiB. */
  maxBytes?: number
  /**
   * How long past `cacheMaxAge` the last fetched keys keep verifying while refreshes fail
   * (the endpoint is down, slow, or answers garbage). `0` turns it off. Default 3600000, at most
   * 604800000 (7 days).
   */
  staleIfError?: Duration
}

/**
 * An ioredis client (`Redis` or `Cluster`), or anything with the same `call` method and
 * `status`. The application creates, connects and closes it; Portcullis only sends commands while
 * `status` is `'ready'`, each with a deadline, and fails closed otherwise.
 */
export interface TokensRedisClient {
  /** ioredis connection status; commands are sent only when it is `'ready'`. */
  readonly status: string
  /** Sends one command (ioredis `call`). */
  call(command: string, ...args: (string | number)[]): Promise<unknown>
}

/**
 * Where DPoP proof identifiers (`jti`) are remembered until their proof is too old to be
 * accepted, so that a proof is used once (RFC 9449 §11.1).
 */
export type TokensDpopReplayOptions =
  | {
      /**
       * In memory, per process: at most `max` proofs (an integer from 1000 to 10000000; about 150
       * bytes each). When full, the oldest are forgotten and proofs as old as them are refused,
       * so a replay is never accepted. Default `{ max: 100000 }`.
       */
      max: number
    }
  | {
      /**
       * Shared by every instance on one Redis (`SET key NX PX`): a proof replayed to another
       * instance is caught too. Redis down or slower than `timeout` refuses DPoP requests with
       * 503 `PCL_DPOP_UNAVAILABLE` (fail closed).
       */
      redis: TokensRedisClient
      /** Prefix of the replay keys. Default `'portcullis:dpop:'`. */
      prefix?: string
      /** Milliseconds (or a {@link Duration}) to wait for Redis. Default 250, from 1 to 60000. */
      timeout?: Duration
    }

/**
 * Server-provided nonces in DPoP proofs (RFC 9449 §9). When set, every proof must carry a
 * `nonce` this server issued less than `lifetime` seconds ago; a proof without one (or with an
 * old or forged one) gets 401 `use_dpop_nonce` and a fresh `DPoP-Nonce` header to retry with.
 */
export interface TokensDpopNonceOptions {
  /**
   * The HMAC key nonces are derived from: a string or bytes, at least 32 bytes. Instances sharing
   * it accept each other's nonces; give one to every instance behind a load balancer. Default: a
   * random key per process (only right for a single instance).
   */
  secret?: string | Uint8Array
  /**
   * Seconds a nonce stays valid, or a {@link Duration} (`'5 minutes'`). Default 300, from 10 to
   * 86400.
   */
  lifetime?: Duration
}

/**
 * DPoP proof verification (RFC 9449), for every issuer. Tokens bound to a key (`cnf.jkt`) are
 * always verified with these settings, also when this object is absent.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#dpop
 */
export interface TokensDpopOptions {
  /**
   * JWS algorithms accepted in proofs: asymmetric only (RFC 9449 §4.2); `none` and `HS*` are
   * refused. Default: every supported asymmetric algorithm (ES256, ES384, ES512, EdDSA, Ed25519,
   * RS256, RS384, RS512, PS256, PS384, PS512). Also sent as `algs` in DPoP challenges.
   */
  algorithms?: string[]
  /**
   * Seconds after its `iat` that a proof is accepted (plus `clockTolerance`; a proof from further
   * in the future than `clockTolerance` is refused too). Also how long a proof's `jti` is
   * remembered. Seconds, or a {@link Duration} (`'1 minute'`). Default 60, from 1 to 600.
   */
  maxAge?: Duration
  /** Longest `DPoP` header accepted, in bytes, before any parsing. Default 4096, 512 to 16384. */
  maxProofBytes?: number
  /** The replay cache of proof `jti`s. Default `{ max: 100000 }` in memory. */
  replay?: TokensDpopReplayOptions
  /** Require server nonces in proofs (RFC 9449 §9). Default: not required. */
  nonce?: TokensDpopNonceOptions
  /**
   * The origins (`https://api.example.com`) clients address this service by, which a proof's
   * `htu` must use. Set it behind a proxy or load balancer that terminates TLS. Default: the
   * origin of the connection (`https:` on a TLS socket, else `http:`) and its `Host` header, or
   * the one an adapter passes. `X-Forwarded-*` headers are never trusted.
   */
  origin?: string | string[]
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
  /**
   * Trusted issuers, at least one: JWT issuers ({@link TokensIssuerOptions}) and at most one
   * issuer of opaque tokens ({@link TokensIntrospectionIssuerOptions}). A JWT from any other
   * `iss` is refused without a fetch.
   */
  issuers: (TokensIssuerOptions | TokensIntrospectionIssuerOptions)[]
  /**
   * Seconds of clock skew allowed on `exp`, `nbf` and `iat`, or a {@link Duration} (`'5s'`).
   * Default 5, from 0 to 300.
   */
  clockTolerance?: Duration
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
  /**
   * How long an async `isRevoked` may take: past it the request is refused (503
   * `PCL_REVOCATION_UNAVAILABLE`, audited) rather than held. Milliseconds or a duration string;
   * default `1000` (1 s), at most 60 s.
   */
  callbackTimeout?: number | string
  /** `realm` of the `WWW-Authenticate` challenge (RFC 6750 §3). */
  realm?: string
  /** DPoP proof verification (RFC 9449) for DPoP-bound tokens; see {@link TokensDpopOptions}. */
  dpop?: TokensDpopOptions
}
