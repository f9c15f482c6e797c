import { base64url, SignJWT, type CryptoKey, type JWTHeaderParameters, type JWTPayload } from 'jose'

/** A protected header to sign with: `alg` is required, anything else is passed through. */
export type ProtectedHeader = { alg: string } & Record<string, unknown>

/** What {@link signToken} signs with: a {@link TestKey}, or any key with its algorithm. */
export interface TokenSigner {
  /** The JWS algorithm, sent as the `alg` header. */
  readonly alg: string
  /** The key id, sent as the `kid` header; none when absent. */
  readonly kid?: string | undefined
  /** The private key, or the secret bytes of an HMAC algorithm. */
  readonly privateKey: CryptoKey | Uint8Array
}

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
 * Signs `claims` as a compact JWS (RFC 7515) with `key`: the header holds the key's `alg` and
 * `kid`, then `header`, which may override them; a header parameter set to `undefined` is left
 * out, and names listed in `crit` are signed as understood. No claim is added.
 *
 * @example
 * ```ts
 * const key = await createTestKey({ kid: 'k1' })
 * const claims = buildPayload({ issuer: 'https://auth.test', audience: 'api' }, { sub: 'svc' })
 * const token = await signToken(key, claims, { typ: 'at+jwt' })
 * const confused = await signToken(key, claims, { kid: 'another-kid' })
 * ```
 */
export async function signToken(
  key: TokenSigner,
  claims: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  return signJwt(claims, { alg: key.alg, kid: key.kid, ...header }, key.privateKey)
}

/**
 * Encodes a token by hand, `base64url(JSON(header)).base64url(JSON(payload)).signature`, without
 * signing anything: for unsigned (`alg: none`), malformed and hand-made tokens that jose refuses
 * to produce. The header and payload may be any JSON value.
 *
 * @example
 * ```ts
 * const unsigned = rawToken({ alg: 'none', typ: 'at+jwt' }, { sub: 'attacker' })
 * const junkSignature = rawToken({ alg: 'ES256', kid: 'k1' }, { sub: 'attacker' }, 'c2ln')
 * ```
 */
export function rawToken(header: unknown, payload: unknown, signature = ''): string {
  const encode = (value: unknown): string => base64url.encode(JSON.stringify(value))
  return `${encode(header)}.${encode(payload)}.${signature}`
}
