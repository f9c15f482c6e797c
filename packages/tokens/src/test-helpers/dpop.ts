import { createHash, randomUUID } from 'node:crypto'
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose'

/** A DPoP client key: the private key that signs proofs, its public JWK and thumbprint. */
export interface ProofKey {
  readonly alg: string
  readonly privateKey: CryptoKey
  readonly jwk: JWK
  /** RFC 7638 thumbprint: what a bound token's `cnf.jkt` holds. */
  readonly jkt: string
}

/** Generates a DPoP client key for `alg` (ES256 by default). */
export async function makeProofKey(alg = 'ES256'): Promise<ProofKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) }
}

/** RFC 9449 §4.2 `ath`: the base64url SHA-256 of the access token. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/** What a proof says; `claims` override the rest (`undefined` leaves a claim out). */
export interface ProofOptions {
  htm?: string
  htu: string
  /** The access token, for `ath`; no `ath` without it. */
  token?: string
  /** Default: now. */
  iat?: number
  /** Default: a random UUID. */
  jti?: string
  nonce?: string
  claims?: Record<string, unknown>
  /** Added to the protected header. */
  header?: Record<string, unknown>
  /** Extension header parameters jose may sign (`crit`). */
  crit?: Record<string, boolean>
}

/**
 * Signs a DPoP proof with `key`: `htm` (GET), `htu`, `iat` (now), a random `jti`, `ath` of `token`
 * and `nonce` when given; `claims` override them, `header` adds to the header.
 */
export async function signProof(key: ProofKey, options: ProofOptions): Promise<string> {
  const payload: Record<string, unknown> = {
    htm: options.htm ?? 'GET',
    htu: options.htu,
    iat: options.iat ?? Math.floor(Date.now() / 1000),
    jti: options.jti ?? randomUUID(),
    ...(options.token === undefined ? {} : { ath: accessTokenHash(options.token) }),
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
  }
  for (const [name, value] of Object.entries(options.claims ?? {})) {
    if (value === undefined) delete payload[name]
    else payload[name] = value
  }
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...options.header })
    .sign(key.privateKey, options.crit === undefined ? {} : { crit: options.crit })
}
