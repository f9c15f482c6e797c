import type { CompactJWSHeaderParameters, KeyInput } from 'jose'

/**
 * Where an issuer's verification keys come from. The verifier asks it for a key per token and,
 * on a cache hit, whether an entry verified under an earlier key set may still be served.
 */
export interface KeySource {
  /**
   * Resolves the key for a token from its protected header only (`alg`, `kid`): never from `jku`,
   * `x5u`, `jwk` or `x5c`, which an attacker controls (RFC 8725 §3.10). Throws jose's
   * `JWKSNoMatchingKey`, `JWKSMultipleMatchingKeys` (iterable over the candidates), or a
   * {@link JwksFetchError} when keys cannot be fetched.
   */
  getKey(header: CompactJWSHeaderParameters): Promise<KeyInput> | KeyInput
  /**
   * Bumped whenever keys were removed, so that cached tokens verified by a removed key stop being
   * served. Reading it first catches up with any refresh that happened since the last read.
   */
  generation(): number
  /** Whether cached verifications may be served without asking this source again. */
  isCurrent(now: number): boolean
}

/**
 * The reason a JWKS could not be fetched or used; never carries the response body. `unsafe-keys`:
 * the set holds a private or symmetric key, or an RSA key no issuer signs with (see `jwksProblem`).
 */
export type JwksFailure =
  'network' | 'timeout' | 'status' | 'too-large' | 'not-json' | 'not-jwks' | 'unsafe-keys'

/** A JWKS fetch failed, or an earlier failure is still cooling down. */
export class JwksFetchError extends Error {
  readonly reason: JwksFailure

  constructor(reason: JwksFailure, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'JwksFetchError'
    this.reason = reason
  }
}
