import {
  base64url,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose'

/** A signing key pair for tests, with its public JWK (carrying `kid`, `alg` and `use`). */
export interface TestKey {
  readonly alg: string
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
  readonly jwk: JWK
}

/** Generates a key pair for `alg` (ES256 by default). */
export async function makeKey(kid: string, alg = 'ES256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { alg, kid, privateKey, publicKey, jwk }
}

/** Seconds since the epoch, from the (possibly faked) clock. */
export function now(): number {
  return Math.floor(Date.now() / 1000)
}

/** Claims of a valid token for `issuer`/`audience`, valid for five minutes. */
export function claimsFor(
  issuer: string,
  audience: string,
  extra: Record<string, unknown> = {},
): JWTPayload {
  const t = now()
  // A claim set to `undefined` is left out of the signed JSON.
  return { iss: issuer, aud: audience, sub: 'user-1', iat: t, exp: t + 300, ...extra }
}

/** Signs `claims` with `key`; the header gets the key's `alg` and `kid` unless overridden. */
export async function sign(
  key: { alg: string; kid?: string; privateKey: CryptoKey | Uint8Array },
  claims: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  const protectedHeader = {
    alg: key.alg,
    ...(key.kid === undefined ? {} : { kid: key.kid }),
    ...header,
  }
  return new SignJWT(claims).setProtectedHeader(protectedHeader).sign(key.privateKey)
}

/** Encodes an arbitrary JSON value as a base64url segment. */
export function segment(value: unknown): string {
  return base64url.encode(JSON.stringify(value))
}

/** Builds a compact token from raw header and payload objects and a signature segment. */
export function rawToken(header: unknown, payload: unknown, signature = ''): string {
  return `${segment(header)}.${segment(payload)}.${signature}`
}
