import { createPublicKey, type JsonWebKey, type KeyObject as NodeKeyObject } from 'node:crypto'
import type { CryptoKey, JWK, KeyInput } from 'jose'
import {
  familiesFor,
  isSymmetricAlgorithm,
  minimumSecretBytes,
  type KeyFamily,
  type SupportedAlgorithm,
} from './algorithms.js'

/** A configured verification key, classified once at construction. */
export interface InspectedKey {
  /** What jose receives: the caller's key, or a private frozen copy of a JWK. */
  readonly key: KeyInput
  readonly family: KeyFamily | undefined
  readonly symmetric: boolean
  /** The JWK `kid`, when the key is a JWK that has one. */
  readonly kid: string | undefined
  /** The only algorithms the key is bound to (a JWK `alg`, a CryptoKey's hash), when bound. */
  readonly boundTo: ReadonlySet<string> | undefined
  readonly secretBytes: number | undefined
  readonly modulusBits: number | undefined
}

/** Outcome of {@link inspectKey}: the key, or why it cannot be used (never quoting the key). */
export type KeyInspection = { ok: true; value: InspectedKey } | { ok: false; message: string }

/** JWK members that only a private key (or a secret's `k`, checked apart) has. */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'priv', 'seed'] as const

/**
 * The only RSA public exponent accepted. With e = 1 a "signature" is the PKCS#1 encoding of the
 * digest itself, which anyone can compute; small exponents such as 3 invite Bleichenbacher-style
 * forgeries against lax verifiers. Every mainstream issuer uses 65537 (F4).
 */
export const RSA_PUBLIC_EXPONENT = 65537n

/**
 * The longest RSA modulus accepted, in bits. Verification cost grows with the modulus: a key of
 * tens of thousands of bits turns each new token into a CPU burn (RFC 8725 §3.1 only sets a floor).
 */
export const MAX_RSA_MODULUS_BITS = 8192

const fail = (message: string): KeyInspection => ({ ok: false, message })

/** Why an RSA key with this public exponent and modulus length is refused, or `undefined`. */
export function rsaProblem(
  exponent: bigint | undefined,
  modulusBits: number | undefined,
): string | undefined {
  if (exponent !== RSA_PUBLIC_EXPONENT) {
    return `is an RSA key whose public exponent is not ${RSA_PUBLIC_EXPONENT}`
  }
  if (modulusBits !== undefined && modulusBits > MAX_RSA_MODULUS_BITS) {
    return `is an RSA key longer than ${MAX_RSA_MODULUS_BITS} bits`
  }
  return undefined
}

/** The unsigned big-endian integer of `bytes` (a CryptoKey's or a JWK's public exponent). */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n
  for (const byte of bytes) value = (value << 8n) | BigInt(byte)
  return value
}

function tagOf(value: object): unknown {
  return (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag]
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function curveFamily(curve: unknown): KeyFamily | undefined {
  switch (curve) {
    case 'P-256':
    case 'prime256v1':
      return 'p-256'
    case 'P-384':
    case 'secp384r1':
      return 'p-384'
    case 'P-521':
    case 'secp521r1':
      return 'p-521'
    default:
      return undefined
  }
}

function hashBits(hash: unknown): string | undefined {
  const name = typeof hash === 'object' && hash !== null ? (hash as { name?: unknown }).name : hash
  return typeof name === 'string' && /^SHA-(256|384|512)$/.test(name) ? name.slice(4) : undefined
}

function inspectKeyObject(key: NodeKeyObject, original: KeyInput, kid?: string): KeyInspection {
  if (key.type === 'private') return fail('must be a public key or a secret, not a private key')
  if (key.type === 'secret') {
    return {
      ok: true,
      value: {
        key: original,
        family: 'oct',
        symmetric: true,
        kid,
        boundTo: undefined,
        secretBytes: key.symmetricKeySize,
        modulusBits: undefined,
      },
    }
  }
  const details = key.asymmetricKeyDetails ?? {}
  let family: KeyFamily | undefined
  switch (key.asymmetricKeyType) {
    case 'rsa':
      family = 'rsa'
      break
    case 'rsa-pss':
      family = 'rsa-pss'
      break
    case 'ec':
      family = curveFamily(details.namedCurve)
      break
    case 'ed25519':
      family = 'ed25519'
      break
    default:
      family = undefined
  }
  if (family === undefined) return fail('is of a key type no supported algorithm uses')
  if (family === 'rsa' || family === 'rsa-pss') {
    const problem = rsaProblem(details.publicExponent, details.modulusLength)
    if (problem !== undefined) return fail(problem)
  }
  return {
    ok: true,
    value: {
      key: original,
      family,
      symmetric: false,
      kid,
      boundTo: undefined,
      secretBytes: undefined,
      modulusBits: details.modulusLength,
    },
  }
}

function inspectCryptoKey(key: CryptoKey): KeyInspection {
  if (key.type === 'private') return fail('must be a public key or a secret, not a private key')
  if (!key.usages.includes('verify')) return fail('is a CryptoKey whose usages lack "verify"')
  const algorithm = key.algorithm as {
    name: string
    hash?: unknown
    namedCurve?: unknown
    length?: unknown
    modulusLength?: unknown
    publicExponent?: unknown
  }
  const bits = hashBits(algorithm.hash)
  const base = { key, kid: undefined, secretBytes: undefined, modulusBits: undefined }
  switch (algorithm.name) {
    case 'HMAC': {
      if (bits === undefined) return fail('is an HMAC CryptoKey with an unsupported hash')
      const length = typeof algorithm.length === 'number' ? algorithm.length / 8 : undefined
      const boundTo = new Set([`HS${bits}`])
      return {
        ok: true,
        value: { ...base, family: 'oct', symmetric: true, boundTo, secretBytes: length },
      }
    }
    case 'RSASSA-PKCS1-v1_5':
    case 'RSA-PSS': {
      if (bits === undefined) return fail('is an RSA CryptoKey with an unsupported hash')
      const prefix = algorithm.name === 'RSA-PSS' ? 'PS' : 'RS'
      const modulusBits =
        typeof algorithm.modulusLength === 'number' ? algorithm.modulusLength : undefined
      const exponent =
        algorithm.publicExponent instanceof Uint8Array
          ? bytesToBigInt(algorithm.publicExponent)
          : undefined
      const problem = rsaProblem(exponent, modulusBits)
      if (problem !== undefined) return fail(problem)
      return {
        ok: true,
        value: {
          ...base,
          family: 'rsa',
          symmetric: false,
          boundTo: new Set([`${prefix}${bits}`]),
          modulusBits,
        },
      }
    }
    case 'ECDSA': {
      const family = curveFamily(algorithm.namedCurve)
      if (family === undefined) return fail('is an ECDSA CryptoKey on an unsupported curve')
      return { ok: true, value: { ...base, family, symmetric: false, boundTo: undefined } }
    }
    case 'Ed25519':
      return {
        ok: true,
        value: { ...base, family: 'ed25519', symmetric: false, boundTo: undefined },
      }
    default:
      return fail('is a CryptoKey of an algorithm no supported JWS algorithm uses')
  }
}

function base64urlBytes(value: string): number | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(value) || value.length % 4 === 1) return undefined
  return Math.floor((value.length * 3) / 4)
}

function inspectJwk(input: Record<string, unknown>): KeyInspection {
  // A private copy: jose freezes JWK objects it is given, and the caller's object must not change
  // under us after validation.
  const jwk = structuredClone(input) as JWK & Record<string, unknown>
  const { kty, kid, use, alg } = jwk
  const keyOps: unknown = jwk.key_ops
  if (typeof kty !== 'string') return fail('is not a key: a JWK needs a "kty" member')
  if (kid !== undefined && typeof kid !== 'string') return fail('has a "kid" that is not a string')
  // RFC 7517 §4.2 / §4.3: a key marked for another use or operation must not verify signatures.
  if (use !== undefined && use !== 'sig') return fail('has "use" other than "sig"')
  if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes('verify'))) {
    return fail('has "key_ops" without "verify"')
  }
  if (alg !== undefined && typeof alg !== 'string') return fail('has an "alg" that is not a string')
  const boundTo = alg === undefined ? undefined : new Set([alg])

  if (kty === 'oct') {
    const secretBytes = typeof jwk.k === 'string' ? base64urlBytes(jwk.k) : undefined
    if (secretBytes === undefined) return fail('is an "oct" JWK without a valid "k"')
    const key = Object.freeze(jwk)
    return {
      ok: true,
      value: {
        key,
        family: 'oct',
        symmetric: true,
        kid,
        boundTo,
        secretBytes,
        modulusBits: undefined,
      },
    }
  }
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) {
    return fail('is a private JWK; configure the public key only')
  }
  let keyObject: NodeKeyObject
  try {
    keyObject = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
  } catch {
    return fail('is not a valid public JWK')
  }
  if (Array.isArray(keyOps)) Object.freeze(keyOps)
  const inspected = inspectKeyObject(keyObject, Object.freeze(jwk), kid)
  if (!inspected.ok) return inspected
  return { ok: true, value: { ...inspected.value, boundTo } }
}

/**
 * Classifies a configured key (CryptoKey, KeyObject, JWK or Uint8Array secret) so that options
 * can be checked against it at construction rather than failing on every request.
 */
export function inspectKey(input: unknown): KeyInspection {
  if (input instanceof Uint8Array) {
    if (input.byteLength === 0) return fail('is an empty secret')
    return {
      ok: true,
      value: {
        key: Uint8Array.from(input),
        family: 'oct',
        symmetric: true,
        kid: undefined,
        boundTo: undefined,
        secretBytes: input.byteLength,
        modulusBits: undefined,
      },
    }
  }
  if (typeof input !== 'object' || input === null) {
    return fail('must be a CryptoKey, KeyObject, JWK or Uint8Array')
  }
  const tag = tagOf(input)
  if (tag === 'KeyObject') return inspectKeyObject(input as NodeKeyObject, input)
  if (tag === 'CryptoKey') return inspectCryptoKey(input as CryptoKey)
  if (isPlainObject(input)) return inspectJwk(input)
  return fail('must be a CryptoKey, KeyObject, JWK or Uint8Array')
}

/** Whether `key` can verify `alg`: same family, not bound to another algorithm. */
export function keyCanVerify(key: InspectedKey, alg: SupportedAlgorithm): boolean {
  if (key.family === undefined || !familiesFor(alg).includes(key.family)) return false
  return key.boundTo === undefined || key.boundTo.has(alg)
}

/**
 * Why `key` is too weak for `alg`, or `undefined`: RFC 7518 §3.2 (HMAC key at least the hash
 * size) and §3.3 / §3.5 (RSA modulus of at least 2048 bits).
 */
export function keyWeakness(key: InspectedKey, alg: SupportedAlgorithm): string | undefined {
  if (isSymmetricAlgorithm(alg) && key.secretBytes !== undefined) {
    const needed = minimumSecretBytes(alg)
    if (key.secretBytes < needed) return `is shorter than the ${needed} bytes ${alg} requires`
  }
  if (key.modulusBits !== undefined && key.modulusBits < 2048) {
    return 'is an RSA key shorter than 2048 bits'
  }
  return undefined
}
