import { AuthenticationError, DependencyError, type Principal } from '@portcullis/core'
import { deadline, NO_TELEMETRY, type Telemetry } from '@portcullis/core/internal'
import { errors, type CompactJWSHeaderParameters, type JWTPayload, type KeyInput } from 'jose'
import { LRUCache } from 'lru-cache'
import type { KeySource } from '../lib/key-source.js'
import { mapJoseError } from '../lib/map-jose-error.js'
import { buildPrincipal, type ScopeClaim } from '../lib/principal.js'
import { RemoteKeySource } from '../lib/remote-key-source.js'
import { StaticKeySource } from '../lib/static-key-source.js'
import { resolveTokensOptions, type ResolvedIssuer } from '../options/resolve-tokens-options.js'
import { isToken68 } from '../bearer/index.js'
import { createIntrospector } from '../introspection/index.js'
import { createSenderCheck, type SenderCheck } from '../sender/create-sender-check.js'
import {
  claimChecks,
  COMPACT_JWS,
  decodeJws,
  decodeJwsLazily,
  SignatureChecks,
  type ClaimChecks,
  type DecodedJws,
} from './jws.js'
import type { TokensOptions } from '../options/tokens-options.js'

/**
 * Verifies access tokens against the configured issuers.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#verifier
 */
export interface Verifier {
  /**
   * Verifies an access token and returns its frozen {@link Principal}: a compact JWS against
   * the JWT issuers, anything else (an opaque token) by introspection (RFC 7662) when an issuer
   * declares `introspection`. A token that is not a token68 (RFC 6750 §2.1) is refused before
   * either.
   *
   * A token verified before returns synchronously (a cache lookup, unless `isRevoked` is async);
   * otherwise a promise. Failures decided without I/O (size, shape, unknown issuer, alg not
   * allowed) throw synchronously, so call it as `await verifier.verify(token)` inside `try`.
   * Throws `AuthenticationError` (`PCL_TOKEN_INVALID`, `PCL_TOKEN_EXPIRED`,
   * `PCL_TOKEN_TOO_LARGE`, `PCL_TOKEN_REVOKED`) or `DependencyError` (`PCL_KEYS_UNAVAILABLE`,
   * `PCL_REVOCATION_UNAVAILABLE`, `PCL_INTROSPECTION_UNAVAILABLE`).
   *
   * It checks the token only: the binding of a sender-constrained token (`cnf`: DPoP, a client
   * certificate) is a property of the request, enforced by `createAuthenticator`. Use the
   * authenticator to accept requests.
   */
  verify(token: string): Principal | Promise<Principal>
  /** `realm` for the `WWW-Authenticate` challenge, from the options. */
  readonly realm: string | undefined
  /** Longest token accepted, in bytes. */
  readonly maxTokenBytes: number
  /**
   * What the tokens are bound to and how it is proved (DPoP settings, each issuer's `dpop` mode,
   * certificate-bound tokens), resolved from the same options. It travels with the verifier, so
   * the authenticator applies the verifier's own settings, whichever copy of the package (ESM or
   * CommonJS, two versions) made either.
   */
  readonly senderConstraints: SenderCheck
  /**
   * Settings that are allowed but probably a mistake (today: an issuer without `typ`), each with
   * the option it concerns and a message. The Fastify plugin and the Express guard log each once
   * at startup (`warn`); log them yourself when you use the verifier alone. Optional, so that a
   * verifier wrapping another one need not carry it.
   */
  readonly warnings?: readonly { readonly field: string; readonly message: string }[]
}

interface CompiledIssuer {
  /** The configured `iss`. */
  readonly issuer: string
  readonly source: KeySource
  readonly algorithms: ReadonlySet<string>
  /** The claim checks of its `verifyOptions`, compiled once. */
  readonly checkClaims: ClaimChecks
  readonly maxTokenAge: number | undefined
  readonly scopeClaim: ScopeClaim
  readonly getKey: (header: CompactJWSHeaderParameters) => Promise<KeyInput> | KeyInput
}

interface Verified {
  /** The whole token: an entry is served only for exactly this token. */
  readonly token: string
  readonly principal: Principal
  /** Milliseconds since the epoch after which the entry is not served. */
  readonly expiresAt: number
  readonly source: KeySource
  /** The source's key generation before the token was verified. */
  readonly generation: number
}

/**
 * The cache key of a token: its signature segment. A lookup hashes its key, and hashing the whole
 * token (claims and all, often a kilobyte) is the largest cost of a warm request; the signature
 * is short, unguessable, and the entry is still served only for the exact token it was verified
 * from. A hash lookup compares no prefix of anyone's token, so it leaks none through timing.
 */
function cacheKey(token: string): string {
  return token.slice(token.lastIndexOf('.') + 1)
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

function invalid(message: string): AuthenticationError {
  return new AuthenticationError('PCL_TOKEN_INVALID', { message })
}

function compile(issuer: ResolvedIssuer, telemetry: Telemetry): CompiledIssuer {
  const onFetch = telemetry.metrics
    ? (failure: string | null) => telemetry.jwksFetch(issuer.issuer, failure)
    : undefined
  const source: KeySource =
    issuer.keys.kind === 'remote'
      ? new RemoteKeySource({ ...issuer.keys.options, onFetch })
      : new StaticKeySource(issuer.keys.keys)
  return {
    issuer: issuer.issuer,
    source,
    algorithms: issuer.algorithms,
    checkClaims: claimChecks(issuer.verifyOptions),
    maxTokenAge: issuer.maxTokenAge,
    scopeClaim: issuer.scopeClaim,
    // Only the protected header reaches the key source: jose's own getters (local and remote
    // JWKS) never read `jku`, `x5u`, `jwk` or `x5c`, and neither does ours.
    getKey: (header) => source.getKey(header),
  }
}

/**
 * Several keys fit the token's alg and kid (jose's `JWKSMultipleMatchingKeys`, or ours for static
 * keys): the first whose signature checks wins; any other failure is about the token itself.
 * `attempt` verifies with one key and throws jose's `JWSSignatureVerificationFailed` when the
 * signature is not that key's.
 */
export async function firstMatchingKey<T>(
  candidates: AsyncIterable<KeyInput>,
  attempt: (key: KeyInput) => Promise<T> | T,
): Promise<T> {
  let lastError: unknown = new errors.JWKSNoMatchingKey()
  for await (const key of candidates) {
    try {
      return await attempt(key)
    } catch (err) {
      if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw err
      lastError = err
    }
  }
  throw lastError
}

/**
 * Creates a token verifier: options are validated now (a `PortcullisConfigError` naming the field
 * on any mistake), keys are fetched lazily.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({
 *   issuers: [{ issuer: 'https://auth.internal', audience: 'videos-api', algorithms: ['ES256'],
 *               jwksUri: 'https://auth.internal/.well-known/jwks.json' }],
 * })
 * const principal = await verifier.verify(token)
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#verifier
 */
export function createVerifier(options: TokensOptions): Verifier {
  return buildVerifier(options, NO_TELEMETRY)
}

/** {@link createVerifier} reporting its verifications and JWKS fetches to `telemetry`. */
export function buildVerifier(options: TokensOptions, telemetry: Telemetry): Verifier {
  const config = resolveTokensOptions(options)
  const issuers = new Map<string, CompiledIssuer>()
  for (const issuer of config.issuers) issuers.set(issuer.issuer, compile(issuer, telemetry))
  // The issuer every JWS must come from, when only one is configured.
  const only = issuers.size === 1 ? [...issuers.values()][0] : undefined
  const { maxTokenBytes, clockTolerance, isRevoked, callbackTimeout } = config
  const cache =
    config.cacheMax > 0 ? new LRUCache<string, Verified>({ max: config.cacheMax }) : undefined
  const introspector =
    config.introspection === undefined
      ? undefined
      : createIntrospector(config.introspection, clockTolerance, config.cacheMax)
  // Concurrent verifications of one new token share one verification, keyed as the cache is (by
  // the signature segment, sliced once per call for both) and served only for the exact token.
  const pending = new Map<string, { readonly token: string; readonly work: Promise<Principal> }>()
  const signatures = new SignatureChecks()

  // Each with its code's title as the message; what isRevoked threw (or the deadline) is the cause.
  const revoked = (): AuthenticationError => new AuthenticationError('PCL_TOKEN_REVOKED')
  const revocationFailed = (cause: unknown): DependencyError =>
    new DependencyError('PCL_REVOCATION_UNAVAILABLE', { cause })

  // Revocation is checked on every call, cache hits included, and fails closed: anything but
  // `false` (a throw, a rejection, a non-boolean) refuses the token.
  function admit(principal: Principal): Principal | Promise<Principal> {
    if (isRevoked === undefined) return principal
    let answer: boolean | Promise<boolean>
    try {
      answer = isRevoked(principal)
    } catch (err) {
      throw revocationFailed(err)
    }
    if (isThenable(answer)) {
      const late = (): Error => new Error(`isRevoked did not answer within ${callbackTimeout} ms`)
      return deadline(answer, callbackTimeout, late).then(
        (result) => {
          if (result !== false) throw revoked()
          return principal
        },
        // A rejection (or the deadline) is wrapped, never shown.
        (err: unknown) => {
          throw revocationFailed(err)
        },
      )
    }
    if (answer !== false) throw revoked()
    return principal
  }

  function cached(token: string, key: string): Verified | undefined {
    if (cache === undefined) return undefined
    const entry = cache.get(key)
    // Another token with the same signature (a payload swapped under a real signature) is not
    // this entry: it is verified in full, and fails.
    if (entry === undefined || entry.token !== token) return undefined
    const now = Date.now()
    if (now >= entry.expiresAt || entry.generation !== entry.source.generation()) {
      cache.delete(key)
      return undefined
    }
    // A key set past its refresh age is not trusted without going through jose again.
    return entry.source.isCurrent(now) ? entry : undefined
  }

  // A token of the compact JWS shape is decoded once, here: the issuer is picked from it, and an
  // alg the issuer does not allow is refused before any key lookup (so `none` or HS256 against
  // an RSA issuer never causes a JWKS fetch).
  function preflight(token: string): { jws: DecodedJws; issuer: CompiledIssuer } {
    let jws: DecodedJws
    try {
      jws = only === undefined ? decodeJws(token) : decodeJwsLazily(token)
    } catch (err) {
      throw mapJoseError(err)
    }
    // With one issuer, the claims are decoded after the signature checked; its `iss` is then
    // checked with the other claims.
    let issuer = only
    if (issuer === undefined) {
      const { iss } = jws.claims
      issuer = typeof iss === 'string' ? issuers.get(iss) : undefined
    }
    if (issuer === undefined) throw invalid('Token issuer (iss) is not configured')
    const { alg } = jws.header
    if (typeof alg !== 'string' || !issuer.algorithms.has(alg)) {
      throw invalid('Token alg is not allowed for its issuer')
    }
    return { jws, issuer }
  }

  function expiryOf(claims: JWTPayload, issuer: CompiledIssuer): number {
    // jose required `exp` and checked it is a number. The entry ends at exp minus the tolerance,
    // and no later than the end of maxTokenAge, so the cache never serves what jose would refuse.
    let seconds = (claims.exp ?? 0) - clockTolerance
    if (issuer.maxTokenAge !== undefined && typeof claims.iat === 'number') {
      seconds = Math.min(seconds, claims.iat + issuer.maxTokenAge - clockTolerance)
    }
    return seconds * 1000
  }

  // The signature check with the key the issuer's source picks from the header alone, then
  // `valid()`, as `check().then(valid, refused)`: one batched Node signature check when the key is
  // at hand and the check needs no jose (every token after the first of a key and alg; an HMAC is
  // answered at once), jose otherwise. `refused` gets jose's errors, unmapped.
  function checkSignature(
    jws: DecodedJws,
    issuer: CompiledIssuer,
    valid: () => Principal,
    refused: (err: unknown) => never,
  ): Principal | Promise<Principal> {
    const several = (err: unknown): Promise<void> => {
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err
      return firstMatchingKey(err, (key) => signatures.check(jws, key))
    }
    let key: KeyInput | Promise<KeyInput>
    try {
      key = issuer.getKey(jws.header)
    } catch (err) {
      // No key (or a malformed header): refused at once, as any refusal.
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) return refused(err)
      return several(err).then(valid, refused)
    }
    if (!isThenable(key)) return signatures.verify(jws, key, valid, refused)
    return Promise.resolve(key)
      .then((found) => signatures.check(jws, found), several)
      .then(valid, refused)
  }

  // The signature first (over the exact bytes), then the claims, as jwtVerify orders them. A
  // fresh token costs its signature check and one promise, which the check settles itself (not
  // jose's chain of ticks); settled either way, it ends the token's single-flight entry.
  // `key` is the token's cache key; `slot`, whether the caller registers the promise under it
  // for single flight.
  function verifyFresh(
    jws: DecodedJws,
    issuer: CompiledIssuer,
    key: string,
    slot: boolean,
  ): Principal | Promise<Principal> {
    const generation = issuer.source.generation()
    return checkSignature(
      jws,
      issuer,
      () => {
        if (slot) pending.delete(key)
        return signedToken(jws, issuer, generation, key)
      },
      (err: unknown) => {
        if (slot) pending.delete(key)
        throw mapJoseError(err)
      },
    )
  }

  // A token whose signature checked: its claims, then the principal, cached.
  function signedToken(
    jws: DecodedJws,
    issuer: CompiledIssuer,
    generation: number,
    key: string,
  ): Principal {
    const { token } = jws
    const now = Date.now()
    const seconds = Math.floor(now / 1000)
    let claims: JWTPayload
    try {
      // Decoded now when the preflight did not need them (one issuer).
      claims = jws.claims
      issuer.checkClaims(jws, seconds)
    } catch (err) {
      throw mapJoseError(err)
    }
    // jose compares `iat` with the clock only under maxTokenAge. A token issued in the future is
    // no token this issuer minted yet (a skewed or forged clock): refused like a bad `nbf`. It is
    // checked once, here: a cache hit is later still, so never earlier than `iat` allows.
    if (typeof claims.iat === 'number' && claims.iat > seconds + clockTolerance) {
      throw invalid('Token issued in the future (iat), beyond clockTolerance')
    }
    const principal = buildPrincipal(claims, issuer.scopeClaim)
    if (cache !== undefined) {
      const expiresAt = expiryOf(claims, issuer)
      if (expiresAt > now) {
        cache.set(key, {
          token,
          principal,
          expiresAt,
          source: issuer.source,
          generation,
        })
      }
    }
    return principal
  }

  // What the last call of `verifyToken` found, for telemetry: read right after it returns.
  let lastHit = false
  let lastIssuer: string | undefined

  function verifyToken(token: string): Principal | Promise<Principal> {
    lastHit = false
    lastIssuer = undefined
    if (typeof token !== 'string' || token.length === 0) throw invalid('Token is empty')
    if (token.length > maxTokenBytes) {
      throw new AuthenticationError('PCL_TOKEN_TOO_LARGE', {
        message: `Token longer than maxTokenBytes (${maxTokenBytes})`,
      })
    }
    // Only the exact string verified before is a hit: it was a token68 then.
    const key = cacheKey(token)
    const hit = cached(token, key)
    if (hit !== undefined) {
      lastHit = true
      return admit(hit.principal)
    }
    // One pattern for the usual token: a compact JWS (three non-empty base64url segments) is a
    // token68 too.
    if (!COMPACT_JWS.test(token)) {
      // RFC 6750 §2.1: an access token is a token68. Nothing else goes to a key set or to an
      // introspection endpoint.
      if (!isToken68(token)) throw invalid('Token is not a token68 (RFC 6750 §2.1)')
      // RFC 7662: a token that is not a JWS is opaque, and only its issuer can say what it is.
      if (introspector === undefined) {
        throw invalid('Token is not a compact JWS (three non-empty base64url segments)')
      }
      const principal = introspector.verify(token)
      return isThenable(principal) ? principal.then(admit) : admit(principal)
    }
    const inFlight = pending.get(key)
    let work: Promise<Principal>
    if (inFlight !== undefined && inFlight.token === token) {
      work = inFlight.work
    } else {
      const { jws, issuer } = preflight(token)
      lastIssuer = issuer.issuer
      // Another token under the same signature while one is in flight is verified on its own
      // (and fails): it never joins, nor takes, the slot.
      const slot = inFlight === undefined
      const fresh = verifyFresh(jws, issuer, key, slot)
      if (!(fresh instanceof Promise)) return admit(fresh)
      work = fresh
      if (slot) pending.set(key, { token, work })
    }
    return isRevoked === undefined ? work : work.then(admit)
  }

  function counted(token: string): Principal | Promise<Principal> {
    let result
    try {
      result = verifyToken(token)
    } catch (err) {
      telemetry.verification('refused', lastIssuer, err)
      throw err
    }
    const outcome = lastHit ? 'cache_hit' : 'verified'
    if (!(result instanceof Promise)) {
      telemetry.verification(outcome, result.issuer, null)
      return result
    }
    const issuer = lastIssuer
    return result.then(
      (principal) => {
        telemetry.verification(outcome, principal.issuer, null)
        return principal
      },
      (err: unknown) => {
        telemetry.verification('refused', issuer, err)
        throw err
      },
    )
  }

  // Without a live meter the verifier does no telemetry work at all.
  const verify = telemetry.metrics ? counted : verifyToken

  // An issuer without a mode (the introspection issuer) is 'allowed': only 'required' is read.
  const modes = new Map<string, 'required' | 'allowed'>(
    config.issuers.map((issuer) => [issuer.issuer, issuer.dpop] as const),
  )
  return Object.freeze({
    verify,
    realm: config.realm,
    maxTokenBytes,
    senderConstraints: createSenderCheck(config.dpop, modes),
    warnings: config.warnings,
  })
}
