import { bytesToBigInt, PRIVATE_JWK_MEMBERS, rsaProblem } from './inspect-key.js'

const BASE64URL = /^[A-Za-z0-9_-]+$/

// The bytes of a base64url member without its leading zero octets, or undefined when it is not
// base64url (RFC 7518 §6.3.1: `n` and `e` are Base64urlUInt values).
function unsignedBytes(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || !BASE64URL.test(value) || value.length % 4 === 1) {
    return undefined
  }
  const bytes = Buffer.from(value, 'base64url')
  let start = 0
  while (start < bytes.length && bytes[start] === 0) start++
  return bytes.subarray(start)
}

function bitLength(bytes: Uint8Array): number {
  const first = bytes[0]
  return first === undefined ? 0 : (bytes.length - 1) * 8 + (32 - Math.clz32(first))
}

function rsaMemberProblem(jwk: Record<string, unknown>): string | undefined {
  const e = unsignedBytes(jwk.e)
  const n = unsignedBytes(jwk.n)
  if (e === undefined || n === undefined || n.length === 0) {
    return 'is an RSA key without a valid "n" and "e"'
  }
  return rsaProblem(bytesToBigInt(e), bitLength(n))
}

/**
 * Why a fetched JWKS (its `keys`, each a JSON object) must not be used at all, or `undefined`.
 *
 * A published key set holds public keys only (RFC 7517 §5, RFC 8414 `jwks_uri`). One that holds a
 * private key (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, ...) or a secret (`kty: "oct"`, `k`) comes
 * from a misconfigured or compromised endpoint, and an RSA key with an exponent other than 65537
 * (e = 1 lets anyone forge signatures) or a modulus over 8192 bits is no key an issuer signs with:
 * the whole answer is refused rather than the rest of it trusted. Messages name the member's index
 * and the rule, never key material.
 */
export function jwksProblem(keys: readonly Record<string, unknown>[]): string | undefined {
  for (const [index, jwk] of keys.entries()) {
    let problem: string | undefined
    if (jwk.kty === 'oct' || 'k' in jwk) problem = 'is a symmetric key (kty "oct")'
    else if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) problem = 'is a private key'
    else if (jwk.kty === 'RSA') problem = rsaMemberProblem(jwk)
    if (problem !== undefined) return `keys[${index}] ${problem}`
  }
  return undefined
}
