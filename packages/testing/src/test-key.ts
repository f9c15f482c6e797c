import type { CryptoKey, JWK } from 'jose'
import { isSymmetric, isTestAlgorithm, type TestAlgorithm } from './algorithms.js'
import { generateSigningKey } from './signing-key.js'

/** An asymmetric algorithm a {@link TestKey} can be generated for. */
export type KeyPairAlgorithm = Exclude<TestAlgorithm, 'HS256'>

/** A key pair for tests, with its kid and its public JWK (carrying `kid`, `alg` and `use`). */
export interface TestKey {
  /** The key id, for the `kid` header and the JWK. */
  readonly kid: string
  /** The algorithm the key signs with. */
  readonly alg: KeyPairAlgorithm
  /** The private key, for {@link signToken}. */
  readonly privateKey: CryptoKey
  /** The public key, for a verifier's `keys` option. */
  readonly publicKey: CryptoKey
  /** The public JWK, for a JWKS (`{ keys: [key.jwk] }`). */
  readonly jwk: JWK
}

/** Options of {@link createTestKey}. */
export interface TestKeyOptions {
  /** The algorithm; default `'ES256'`. */
  alg?: KeyPairAlgorithm
  /** The key id; default the key's RFC 7638 thumbprint. */
  kid?: string
}

/**
 * Generates a fresh key pair (extractable, so that tests may export it) outside any test issuer:
 * for several keys with chosen kids, a JWKS served by {@link createJwksServer}, or an attacker's
 * key.
 *
 * @example
 * ```ts
 * const key = await createTestKey({ alg: 'RS256', kid: 'rs-1' })
 * const jwks = { keys: [key.jwk] }
 * const token = await signToken(key, buildPayload({ issuer: 'https://auth.test', audience: 'api' }))
 * ```
 */
export async function createTestKey(options: TestKeyOptions = {}): Promise<TestKey> {
  const alg = options.alg ?? 'ES256'
  if (!isTestAlgorithm(alg) || isSymmetric(alg)) {
    throw new TypeError(`createTestKey: unsupported algorithm ${JSON.stringify(alg)}`)
  }
  if (options.kid !== undefined && (typeof options.kid !== 'string' || options.kid.length === 0)) {
    throw new TypeError('createTestKey: kid must be a non-empty string')
  }
  const key = await generateSigningKey(alg, { kid: options.kid })
  const { privateKey, verificationKey, jwk } = key
  if (privateKey instanceof Uint8Array || verificationKey instanceof Uint8Array || !jwk) {
    throw new TypeError(`createTestKey: ${alg} did not yield a key pair`)
  }
  return Object.freeze({ kid: key.kid, alg, privateKey, publicKey: verificationKey, jwk })
}
