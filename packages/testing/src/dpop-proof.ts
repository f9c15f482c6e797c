import { createHash, randomUUID } from 'node:crypto'
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose'
import type { KeyPairAlgorithm } from './test-key.js'
import { isSymmetric, isTestAlgorithm } from './algorithms.js'
import { epochSeconds } from './time-span.js'

/** A DPoP client key (RFC 9449): the private key that signs proofs, its public JWK and thumbprint. */
export interface DpopKey {
  /** The algorithm the proofs are signed with. */
  readonly alg: string
  /** The private key that signs the proofs. */
  readonly privateKey: CryptoKey
  /** The public JWK sent in each proof's `jwk` header. */
  readonly jwk: JWK
  /** The RFC 7638 thumbprint of `jwk`: what a bound token's `cnf.jkt` holds (RFC 9449 §6). */
  readonly jkt: string
}

/**
 * Generates a DPoP client key for `alg` (`'ES256'` by default).
 *
 * @example
 * ```ts
 * const client = await createDpopKey()
 * const token = await issuer.token({ sub: 'svc', cnf: { jkt: client.jkt } })
 * ```
 */
export async function createDpopKey(alg: KeyPairAlgorithm = 'ES256'): Promise<DpopKey> {
  if (!isTestAlgorithm(alg) || isSymmetric(alg)) {
    throw new TypeError(`createDpopKey: unsupported algorithm ${JSON.stringify(alg)}`)
  }
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  return Object.freeze({ alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) })
}

/**
 * The `ath` of a DPoP proof for `token` (RFC 9449 §4.2): the base64url SHA-256 of the access
 * token.
 *
 * @example
 * ```ts
 * const dpop = await signDpopProof(client, { htu, claims: { ath: accessTokenHash('another') } })
 * ```
 */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/** What a proof of {@link signDpopProof} says. */
export interface DpopProofOptions {
  /** The HTTP method; default `'GET'`. */
  htm?: string | undefined
  /** The request URI, without query and fragment (RFC 9449 §4.2). */
  htu: string
  /** The access token the proof goes with, for `ath`; no `ath` without it. */
  token?: string | undefined
  /** Seconds since the epoch; default now. */
  iat?: number | undefined
  /** Default a random UUID. */
  jti?: string | undefined
  /** A server-provided nonce (RFC 9449 §8). */
  nonce?: string | undefined
  /** Claims that override the ones above; a claim set to `undefined` is left out. */
  claims?: Readonly<Record<string, unknown>> | undefined
  /** Parameters added to (or overriding) the protected header. */
  header?: Readonly<Record<string, unknown>> | undefined
  /** Extension header parameters to sign as understood (`crit`). */
  crit?: Readonly<Record<string, boolean>> | undefined
}

/**
 * Signs a DPoP proof (RFC 9449 §4.2) with `key`: header `{ alg, typ: 'dpop+jwt', jwk }`, claims
 * `htm`, `htu`, `iat` (now), a random `jti`, `ath` of `token` and `nonce` when given. `claims`
 * override them and `header` adds to the header, for proofs that must be refused.
 *
 * @example
 * ```ts
 * const client = await createDpopKey()
 * const token = await issuer.token({ sub: 'svc', cnf: { jkt: client.jkt } })
 * const dpop = await signDpopProof(client, { htu: 'http://api.test/v1/videos/1', token })
 * await app.inject({ url: '/v1/videos/1', headers: { authorization: `DPoP ${token}`, dpop } })
 * ```
 */
export async function signDpopProof(key: DpopKey, options: DpopProofOptions): Promise<string> {
  const payload: Record<string, unknown> = {
    htm: options.htm ?? 'GET',
    htu: options.htu,
    iat: options.iat ?? epochSeconds(),
    jti: options.jti ?? randomUUID(),
  }
  if (options.token !== undefined) payload.ath = accessTokenHash(options.token)
  if (options.nonce !== undefined) payload.nonce = options.nonce
  for (const [name, value] of Object.entries(options.claims ?? {})) {
    if (value === undefined) delete payload[name]
    else payload[name] = value
  }
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...options.header })
    .sign(key.privateKey, options.crit === undefined ? {} : { crit: { ...options.crit } })
}
