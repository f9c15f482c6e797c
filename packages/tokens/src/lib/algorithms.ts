/**
 * The JWS algorithms a verifier accepts (RFC 7518 §3.1 and RFC 8037 §3.1 / RFC 9864 for EdDSA and
 * Ed25519). `none` is deliberately absent: an unsecured JWS proves nothing (RFC 8725 §3.1).
 */
export const supportedAlgorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'HS256',
  'HS384',
  'HS512',
] as const

/** A JWS algorithm accepted in `algorithms`. */
export type SupportedAlgorithm = (typeof supportedAlgorithms)[number]

const supported: ReadonlySet<string> = new Set(supportedAlgorithms)

/** Whether `alg` is one of {@link supportedAlgorithms}. */
export function isSupportedAlgorithm(alg: unknown): alg is SupportedAlgorithm {
  return typeof alg === 'string' && supported.has(alg)
}

/** Whether `alg` is an HMAC (shared secret) algorithm. */
export function isSymmetricAlgorithm(alg: string): boolean {
  return alg === 'HS256' || alg === 'HS384' || alg === 'HS512'
}

/**
 * The kind of key an algorithm needs. Keys are matched to algorithms by family, so that a key is
 * never used with an algorithm of another kind (RFC 8725 §2.1, algorithm confusion).
 */
export type KeyFamily = 'oct' | 'rsa' | 'rsa-pss' | 'p-256' | 'p-384' | 'p-521' | 'ed25519'

/** The key families that can verify `alg`. */
export function familiesFor(alg: SupportedAlgorithm): readonly KeyFamily[] {
  switch (alg) {
    case 'HS256':
    case 'HS384':
    case 'HS512':
      return ['oct']
    case 'RS256':
    case 'RS384':
    case 'RS512':
      return ['rsa']
    case 'PS256':
    case 'PS384':
    case 'PS512':
      // RFC 7518 §3.5: an rsaEncryption key also verifies RSASSA-PSS.
      return ['rsa', 'rsa-pss']
    case 'ES256':
      return ['p-256']
    case 'ES384':
      return ['p-384']
    case 'ES512':
      return ['p-521']
    case 'EdDSA':
    case 'Ed25519':
      return ['ed25519']
  }
}

/**
 * Minimum HMAC key length in bytes: RFC 7518 §3.2 requires a key at least as long as the hash
 * output.
 */
export function minimumSecretBytes(alg: SupportedAlgorithm): number {
  return alg === 'HS512' ? 64 : alg === 'HS384' ? 48 : 32
}
