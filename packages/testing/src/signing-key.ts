import { randomBytes, randomUUID } from 'node:crypto'
import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type CryptoKey,
  type JWK,
} from 'jose'
import { isSymmetric, type TestAlgorithm } from './algorithms.js'

/** Key material that verifies tokens: a public key, or the shared secret for HS256. */
export type VerificationKey = CryptoKey | Uint8Array

/** One key of the test issuer: what signs, what verifies, and what the JWKS publishes. */
export interface SigningKey {
  /** The key id, sent as the `kid` header and published in the JWK. */
  readonly kid: string
  /** The algorithm the key signs with. */
  readonly alg: TestAlgorithm
  /** The private key (or the HS256 secret) that signs tokens. */
  readonly privateKey: CryptoKey | Uint8Array
  /** The public key (or the HS256 secret) that verifies them. */
  readonly verificationKey: VerificationKey
  /** The JWK published in the JWKS; `undefined` for an HS256 secret that is not exposed. */
  readonly jwk: JWK | undefined
}

/** How {@link generateSigningKey} makes a key. */
export interface GenerateSigningKeyOptions {
  /** The key id; by default the RFC 7638 thumbprint (a random UUID for an HS256 secret). */
  kid?: string | undefined
  /** For HS256: publish the secret as an `oct` JWK. */
  exposeSecret?: boolean | undefined
}

/** Generates a fresh key for `alg`: a key pair, or a random 32-byte secret for HS256. */
export async function generateSigningKey(
  alg: TestAlgorithm,
  options: GenerateSigningKeyOptions = {},
): Promise<SigningKey> {
  if (isSymmetric(alg)) {
    const secret = Uint8Array.from(randomBytes(32))
    const kid = options.kid ?? randomUUID()
    const jwk: JWK | undefined = options.exposeSecret
      ? { kty: 'oct', k: base64url.encode(secret), kid, alg, use: 'sig' }
      : undefined
    return { kid, alg, privateKey: secret, verificationKey: secret, jwk }
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = await exportJWK(publicKey)
  const kid = options.kid ?? (await calculateJwkThumbprint(publicJwk))
  return {
    kid,
    alg,
    privateKey,
    verificationKey: publicKey,
    jwk: { ...publicJwk, kid, alg, use: 'sig' },
  }
}
