import { base64url, SignJWT, type CryptoKey, type JWTHeaderParameters, type JWTPayload } from 'jose'

/** A protected header to sign with: `alg` is required, anything else is passed through. */
export type ProtectedHeader = { alg: string } & Record<string, unknown>

function withoutUndefined(header: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(header).filter(([, value]) => value !== undefined))
}

/**
 * Signs `payload` as a compact JWS with `header` as the protected header. Names listed in a
 * `crit` header are declared as understood, so jose signs them instead of refusing.
 */
export async function signJwt(
  payload: JWTPayload,
  header: ProtectedHeader,
  key: CryptoKey | Uint8Array,
): Promise<string> {
  const protectedHeader = withoutUndefined(header) as JWTHeaderParameters
  const { crit } = protectedHeader
  const options = Array.isArray(crit)
    ? { crit: Object.fromEntries(crit.map((name) => [String(name), true])) }
    : undefined
  return new SignJWT(payload).setProtectedHeader(protectedHeader).sign(key, options)
}

/**
 * Encodes an unsecured JWT by hand (`base64url(header).base64url(payload).`, empty signature
 * segment): jose refuses to sign with `alg: none` and its `UnsecuredJWT` takes no other header.
 */
export function encodeUnsecured(
  payload: JWTPayload,
  header: Record<string, unknown> = { alg: 'none', typ: 'at+jwt' },
): string {
  const encode = (value: unknown): string => base64url.encode(JSON.stringify(value))
  return `${encode(withoutUndefined(header))}.${encode(payload)}.`
}
