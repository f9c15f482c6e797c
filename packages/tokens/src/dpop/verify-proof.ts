import { createHash } from 'node:crypto'
import { AuthenticationError } from '@portcullis/core'
import {
  calculateJwkThumbprint,
  EmbeddedJWK,
  errors,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose'
import { LRUCache } from 'lru-cache'
import { PRIVATE_JWK_MEMBERS } from '../lib/inspect-key.js'
import type { ResolvedDpopOptions } from '../options/resolve-tokens-options.js'
import {
  claimChecks,
  COMPACT_JWS,
  decodeJws,
  isObject,
  SignatureChecks,
  type DecodedJws,
} from '../verifier/jws.js'
import { parseHtu } from './htu.js'
import { createDpopNonces } from './nonce.js'
import { createReplayCache, type ReplayVerdict } from './replay-cache.js'

/** What a proof is checked against: the request it came with and the token it accompanies. */
export interface ProofContext {
  /** The `DPoP` header: one compact JWS. */
  readonly proof: string
  /** The request method, for `htm`. */
  readonly method: string
  /** The origins `htu` may name (serialised, e.g. `https://api.example.com`). */
  readonly origins: readonly string[]
  /** The request path as the router serves it (`requestPath`: dot segments kept), for `htu`. */
  readonly path: string
  /** The access token, for `ath`. */
  readonly accessToken: string
  /** The token's `cnf.jkt`: the thumbprint of the key the proof must be signed with. */
  readonly jkt: string
}

/** Verifies DPoP proofs (RFC 9449 §4.3) and records them against replay. */
export interface ProofVerifier {
  /**
   * Returns (or resolves) when the proof is valid, bound to the token's key, and used for the
   * first time; throws (or rejects) with `AuthenticationError` (`PCL_DPOP_PROOF_INVALID`,
   * `PCL_DPOP_PROOF_REPLAYED`, `PCL_DPOP_NONCE_REQUIRED`, `PCL_TOKEN_BINDING_MISMATCH`) or
   * `DependencyError` (`PCL_DPOP_UNAVAILABLE`). Once the proof's key is known, its signature is
   * one batched OpenSSL check, and the replay check one map or Redis operation.
   */
  verify(context: ProofContext): void | Promise<void>
}

// Imported proof keys and their thumbprints, by the proof's exact protected header (its alg and
// jwk): a client signs every proof with one key and one header, so the key import, the thumbprint
// (an asynchronous digest) and jose's key checks are done once per key, not once per request.
const KEY_CACHE_MAX = 1000

function invalidProof(message: string, detail: string, cause?: unknown): AuthenticationError {
  return new AuthenticationError('PCL_DPOP_PROOF_INVALID', {
    message: `DPoP proof refused: ${message}`,
    detail,
    cause,
  })
}

function algNotAllowed(cause?: unknown): AuthenticationError {
  return invalidProof(
    'alg not allowed',
    'The DPoP proof is signed with an algorithm not accepted here.',
    cause,
  )
}

// jose's errors become ours here; the proof's claims are not secret, but they stay out of logs.
function mapProofError(err: unknown): AuthenticationError {
  if (err instanceof errors.JWTExpired || err instanceof errors.JWTClaimValidationFailed) {
    Object.defineProperty(err, 'payload', { enumerable: false })
  }
  if (err instanceof errors.JWTExpired) {
    return invalidProof('too old (iat)', 'The DPoP proof is too old; sign a new one.', err)
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iat' && err.reason === 'check_failed') {
      return invalidProof('iat in the future', 'The DPoP proof is dated in the future.', err)
    }
    return invalidProof(
      `claim check failed: ${err.claim} (${err.reason})`,
      `The DPoP proof's ${err.claim === 'typ' ? 'typ header' : `${err.claim} claim`} is missing or invalid.`,
      err,
    )
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return algNotAllowed(err)
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return invalidProof(
      'bad signature',
      'The DPoP proof signature does not verify with its jwk.',
      err,
    )
  }
  return invalidProof(
    'not a valid DPoP proof JWT',
    'The DPoP header is not a valid DPoP proof.',
    err,
  )
}

/**
 * Creates the proof verifier of the resolved `dpop` options: its replay cache (memory or Redis),
 * its nonces when required, and a small cache of imported proof keys.
 */
export function createProofVerifier(options: ResolvedDpopOptions): ProofVerifier {
  const replay = createReplayCache(options)
  const nonces = options.nonce === undefined ? undefined : createDpopNonces(options.nonce)
  const keys = new LRUCache<string, { readonly key: CryptoKey; readonly jkt: string }>({
    max: KEY_CACHE_MAX,
  })
  const checkJwtClaims = claimChecks({
    typ: 'dpop+jwt',
    maxTokenAge: options.maxAge,
    clockTolerance: options.clockTolerance,
    requiredClaims: ['jti', 'htm', 'htu', 'iat'],
  })
  const algorithms: ReadonlySet<string> = new Set(options.algorithms)
  const signatures = new SignatureChecks()

  // The proof's own `jwk` is its key (RFC 9449 §4.2); jose's EmbeddedJWK imports it and refuses
  // a private or symmetric one, and the thumbprint is taken from the same object. Imported once
  // per encoded header (the same bytes, the same alg and jwk): a client's next proofs find it.
  async function importKey(
    jws: DecodedJws,
    id: string,
  ): Promise<{ readonly key: CryptoKey; readonly jkt: string }> {
    const { header } = jws
    const key = await EmbeddedJWK(header)
    const found = { key, jkt: await calculateJwkThumbprint(header.jwk as JWK, 'sha256') }
    keys.set(id, found)
    return found
  }

  // Everything that can be judged without a signature check: size, shape, header members. The
  // proof is decoded once, here.
  function preflight(proof: string): DecodedJws {
    if (proof.length > options.maxProofBytes) {
      throw invalidProof(
        `longer than maxProofBytes (${options.maxProofBytes})`,
        'The DPoP proof is too large.',
      )
    }
    if (!COMPACT_JWS.test(proof)) {
      throw invalidProof('not a compact JWS', 'The DPoP header is not a valid DPoP proof.')
    }
    let jws: DecodedJws
    try {
      jws = decodeJws(proof)
    } catch (err) {
      throw mapProofError(err)
    }
    const { alg, jwk } = jws.header as { alg?: unknown; jwk?: unknown }
    if (!isObject(jwk)) {
      throw invalidProof('no jwk header', 'The DPoP proof must carry its public key as jwk.')
    }
    // RFC 9449 §4.3 step 7: a private key (or a secret) in the proof is refused before any use.
    if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk) || 'k' in jwk) {
      throw invalidProof('jwk holds a private key', 'The DPoP proof jwk must be a public key.')
    }
    if (typeof alg !== 'string' || !algorithms.has(alg)) throw algNotAllowed()
    return jws
  }

  function checkClaims(claims: JWTPayload, context: ProofContext): void {
    if (typeof claims.jti !== 'string' || claims.jti.length === 0) {
      throw invalidProof('jti is not a non-empty string', 'The DPoP proof needs a jti.')
    }
    if (claims.htm !== context.method) {
      throw invalidProof('htm does not match', "The DPoP proof's htm is not this request's method.")
    }
    const htu = typeof claims.htu === 'string' ? parseHtu(claims.htu) : null
    if (htu === null || htu.path !== context.path || !context.origins.includes(htu.origin)) {
      throw invalidProof('htu does not match', "The DPoP proof's htu is not this request's URL.")
    }
    // RFC 9449 §4.3 step 11 and §7.1: ath is the base64url SHA-256 of the access token.
    const ath = createHash('sha256').update(context.accessToken).digest('base64url')
    if (claims.ath !== ath) {
      throw invalidProof(
        claims.ath === undefined ? 'no ath' : 'ath does not match',
        "The DPoP proof's ath is not the hash of this access token.",
      )
    }
  }

  // Once the proof's key was imported, a DPoP request costs one signature check (batched) and one
  // replay check, like a fresh bearer token.
  function verify(context: ProofContext): void | Promise<void> {
    const jws = preflight(context.proof)
    const id = jws.token.slice(0, jws.token.indexOf('.'))
    const found = keys.get(id)
    if (found === undefined) {
      return importKey(jws, id).then(
        (imported) => signed(jws, imported, context),
        (err: unknown) => {
          throw mapProofError(err)
        },
      )
    }
    return signed(jws, found, context)
  }

  function signed(
    jws: DecodedJws,
    found: { readonly key: CryptoKey; readonly jkt: string },
    context: ProofContext,
  ): void | Promise<void> {
    return signatures.verify(
      jws,
      found.key,
      () => accept(jws, found.jkt, context),
      (err: unknown) => {
        throw mapProofError(err)
      },
    )
  }

  // A proof whose signature checked: its claims, its binding, its nonce, then its first use.
  function accept(jws: DecodedJws, jkt: string, context: ProofContext): void | Promise<void> {
    const { claims } = jws
    try {
      checkJwtClaims(jws, Math.floor(Date.now() / 1000))
    } catch (err) {
      throw mapProofError(err)
    }
    checkClaims(claims, context)
    // RFC 9449 §6.1: the token is bound to the key whose thumbprint is cnf.jkt.
    if (jkt !== context.jkt) {
      throw new AuthenticationError('PCL_TOKEN_BINDING_MISMATCH', {
        message: 'DPoP proof signed by a key other than the token is bound to (cnf.jkt)',
        detail: 'The DPoP proof key does not match the key this access token is bound to.',
      })
    }
    if (nonces !== undefined && !nonces.accepts(claims.nonce)) {
      throw new AuthenticationError('PCL_DPOP_NONCE_REQUIRED', {
        message:
          claims.nonce === undefined ? 'DPoP proof without a nonce' : 'DPoP proof nonce not valid',
        detail: 'Sign a new DPoP proof with the nonce of the DPoP-Nonce header.',
        headers: { 'DPoP-Nonce': nonces.current() },
      })
    }
    // Last, so that only proofs valid in every other respect take a place in the cache.
    const verdict = replay.record(jkt, claims.jti as string, claims.iat as number)
    return verdict instanceof Promise ? verdict.then(judge) : judge(verdict)
  }

  function judge(verdict: ReplayVerdict): void {
    if (verdict === 'replayed') {
      throw new AuthenticationError('PCL_DPOP_PROOF_REPLAYED', {
        message: 'DPoP proof jti seen before',
        detail: 'Every request needs a new DPoP proof.',
      })
    }
    if (verdict === 'forgotten') {
      throw invalidProof(
        'older than the replay cache can vouch for (raise dpop.replay.max)',
        'The DPoP proof is too old; sign a new one.',
      )
    }
  }

  return Object.freeze({ verify })
}
