/** A JWS algorithm the test issuer can sign with. */
export type TestAlgorithm = 'ES256' | 'ES384' | 'RS256' | 'PS256' | 'EdDSA' | 'HS256'

/** Every algorithm {@link TestAlgorithm} names, in a stable order. */
export const testAlgorithms: readonly TestAlgorithm[] = [
  'ES256',
  'ES384',
  'RS256',
  'PS256',
  'EdDSA',
  'HS256',
]

/** Whether `value` is one of the {@link testAlgorithms}. */
export function isTestAlgorithm(value: unknown): value is TestAlgorithm {
  return typeof value === 'string' && (testAlgorithms as readonly string[]).includes(value)
}

/** Whether `alg` signs with a shared secret (HMAC) rather than a key pair. */
export function isSymmetric(alg: TestAlgorithm): alg is 'HS256' {
  return alg === 'HS256'
}
