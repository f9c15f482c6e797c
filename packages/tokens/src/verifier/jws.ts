import {
  constants,
  createHmac,
  createPublicKey,
  createSecretKey,
  KeyObject,
  timingSafeEqual,
  verify as nodeVerify,
  type JsonWebKey,
} from 'node:crypto'
import {
  compactVerify,
  errors,
  type CompactJWSHeaderParameters,
  type JWTPayload,
  type JWTVerifyOptions,
  type KeyInput,
} from 'jose'

/**
 * A compact JWS decoded once: the verifier picks the issuer and the key from it, checks the
 * signature over `signingInput` and the claims, and builds the principal, without decoding the
 * token a second time.
 */
export interface DecodedJws {
  readonly token: string
  readonly header: CompactJWSHeaderParameters
  readonly claims: JWTPayload
  /** The exact bytes the signature covers: the first two segments and the dot between them. */
  readonly signingInput: Buffer
  readonly signature: Buffer
}

// jose decodes with a fatal decoder: bytes that are not UTF-8 make the token invalid, never
// U+FFFD characters that could compare equal to something else.
const utf8 = new TextDecoder('utf-8', { fatal: true })

// A JSON object: not an array, not null (what JSON.parse gives for `{...}`).
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function parseSegment(segment: string): unknown {
  return JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')))
}

/**
 * Decodes a compact JWS whose three segments the caller checked are non-empty base64url (the
 * verifier's preflight). Throws jose's `JWSInvalid` / `JWTInvalid`, as `jwtVerify` would, for a
 * header or claims set that is not a JSON object, and refuses what `jwtVerify` refuses in the
 * header: a `crit` naming anything but `b64`, and an unencoded payload (`b64: false`).
 */
export function decodeJws(token: string): DecodedJws {
  const first = token.indexOf('.')
  const last = token.lastIndexOf('.')
  let header: unknown
  try {
    header = parseSegment(token.slice(0, first))
  } catch (cause) {
    throw new errors.JWSInvalid('JWS Protected Header is invalid', { cause })
  }
  if (!isObject(header)) throw new errors.JWSInvalid('JWS Protected Header is invalid')
  checkCrit(header)
  let claims: unknown
  try {
    claims = parseSegment(token.slice(first + 1, last))
  } catch (cause) {
    throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object', { cause })
  }
  if (!isObject(claims)) {
    throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object')
  }
  return {
    token,
    header: header as CompactJWSHeaderParameters,
    claims,
    // The token is ASCII (the preflight's pattern): latin1 copies it byte for byte.
    signingInput: Buffer.from(token.slice(0, last), 'latin1'),
    signature: Buffer.from(token.slice(last + 1), 'base64url'),
  }
}

// RFC 7515 §4.1.11: every extension in `crit` must be understood. The only one jose (and so this
// verifier) understands is `b64` (RFC 7797), and a JWT must not use it to leave its payload
// unencoded; any other name, a malformed list, or `b64: false` refuses the token.
function checkCrit(header: Record<string, unknown>): void {
  const { crit } = header
  if (crit === undefined) return
  if (
    !Array.isArray(crit) ||
    crit.length === 0 ||
    crit.some((name) => typeof name !== 'string' || name.length === 0)
  ) {
    throw new errors.JWSInvalid(
      '"crit" (Critical) Header Parameter MUST be an array of non-empty strings when present',
    )
  }
  if (new Set(crit).size !== crit.length) {
    throw new errors.JWSInvalid(
      '"crit" (Critical) Header Parameter MUST NOT contain duplicate values',
    )
  }
  for (const name of crit as string[]) {
    if (name !== 'b64') {
      throw new errors.JOSENotSupported(`Extension Header Parameter "${name}" is not recognized`)
    }
  }
  if (typeof header.b64 !== 'boolean') {
    throw new errors.JWSInvalid(
      'The "b64" (base64url-encode payload) Header Parameter must be a boolean',
    )
  }
  if (!header.b64) throw new errors.JWTInvalid('JWTs MUST NOT use unencoded payload')
}

/**
 * Runs `make` with no stack trace captured. A refused token is the attacker's cheapest request:
 * its error carries what the response and the audit event need (a code and a fixed message),
 * and a stack walk would be most of its cost.
 */
export function withoutStack<T>(make: () => T): T {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}

// One error for every signature that does not check: it carries nothing about the token (jose's
// own has a fixed message), and a flood of forged tokens then builds no error object each.
export const SIGNATURE_REFUSED = Object.freeze(
  withoutStack(() => new errors.JWSSignatureVerificationFailed()),
)
const signatureRefused = (): errors.JWSSignatureVerificationFailed => SIGNATURE_REFUSED

/** Checks a signature: `true` when `signature` is the key's signature of `input` under the alg. */
type SignatureCheck = (input: Buffer, signature: Buffer) => boolean

// The hash of every HMAC, RSA and ECDSA algorithm is in its name (`ES384`: SHA-384); a PSS salt
// is as long as the hash; an ECDSA signature (IEEE P1363) is its two coordinates.
const HASHED = /^(?:HS|RS|PS|ES)(256|384|512)$/
const ECDSA_SIGNATURE_BYTES: Record<string, number> = { ES256: 64, ES384: 96, ES512: 132 }

// Node 20 has the class as a global only (\`webcrypto.CryptoKey\` is undefined there).
const WebCryptoKey = (globalThis as unknown as { CryptoKey: abstract new () => object }).CryptoKey

function keyObjectOf(key: KeyInput): KeyObject | undefined {
  if (key instanceof KeyObject) return key
  if (key instanceof Uint8Array) return createSecretKey(key)
  if (key instanceof WebCryptoKey)
    return KeyObject.from(key as Parameters<typeof KeyObject.from>[0])
  if (isObject(key)) {
    const jwk = key as JsonWebKey
    if (jwk.kty === 'oct') {
      return typeof jwk.k === 'string'
        ? createSecretKey(Buffer.from(jwk.k, 'base64url'))
        : undefined
    }
    return createPublicKey({ key: jwk, format: 'jwk' })
  }
  return undefined
}

/** Node's `crypto` check of `alg` with `key`, the same operation WebCrypto performs for jose. */
function signatureCheck(alg: string, key: KeyObject): SignatureCheck | undefined {
  const bits = HASHED.exec(alg)?.[1]
  const hash = bits === undefined ? undefined : `sha${bits}`
  if (alg === 'EdDSA' || alg === 'Ed25519') {
    return (input, signature) => signature.length === 64 && nodeVerify(null, input, key, signature)
  }
  if (hash === undefined) return undefined
  if (alg.startsWith('HS')) {
    return (input, signature) => {
      const expected = createHmac(hash, key).update(input).digest()
      return expected.length === signature.length && timingSafeEqual(expected, signature)
    }
  }
  // RFC 7518 §3.3 and §3.5: an RSA signature is exactly as long as the modulus. OpenSSL accepts
  // a PSS signature with its leading zero octets stripped (another string, the same integer);
  // this verifier does not.
  const modulusBits = key.asymmetricKeyDetails?.modulusLength ?? 0
  const rsaBytes = Math.ceil(modulusBits / 8)
  if (alg.startsWith('RS')) {
    return (input, signature) =>
      signature.length === rsaBytes && nodeVerify(hash, input, key, signature)
  }
  if (alg.startsWith('PS')) {
    const pss = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 }
    return (input, signature) =>
      signature.length === rsaBytes && nodeVerify(hash, input, pss, signature)
  }
  const length = ECDSA_SIGNATURE_BYTES[alg]
  if (length === undefined) return undefined
  const ecdsa = { key, dsaEncoding: 'ieee-p1363' as const }
  return (input, signature) =>
    signature.length === length && nodeVerify(hash, input, ecdsa, signature)
}

/**
 * Signature checks per key and algorithm. The first token a key verifies under an algorithm goes
 * through jose's `compactVerify`, which checks the key itself against the algorithm (key type,
 * curve, a CryptoKey's usages and algorithm, an RSA modulus of at least 2048 bits). Once jose
 * accepted the pair, its later tokens are checked with Node's `crypto.verify` on the key's
 * `KeyObject`: the same OpenSSL operation WebCrypto runs, without a thread-pool round trip, a
 * promise, or a second decoding of the token. A pair jose refused is asked again every time, so
 * it keeps failing exactly as jose fails it.
 */
export class SignatureChecks {
  readonly #checks = new WeakMap<object, Map<string, SignatureCheck>>()

  /** Resolves when the signature is valid; throws jose's errors otherwise. */
  verify(jws: DecodedJws, key: KeyInput): void | Promise<void> {
    const alg = String(jws.header.alg)
    const check = this.#checks.get(key)?.get(alg)
    if (check !== undefined) {
      if (!check(jws.signingInput, jws.signature)) throw signatureRefused()
      return
    }
    return this.#first(jws, key, alg)
  }

  async #first(jws: DecodedJws, key: KeyInput, alg: string): Promise<void> {
    try {
      await compactVerify(jws.token, key, { algorithms: [alg] })
    } catch (err) {
      // A wrong signature means jose accepted the key for the alg: the pair is usable.
      if (err instanceof errors.JWSSignatureVerificationFailed) this.#learn(key, alg)
      throw err
    }
    this.#learn(key, alg)
  }

  #learn(key: KeyInput, alg: string): void {
    let keyObject: KeyObject | undefined
    try {
      keyObject = keyObjectOf(key)
    } catch {
      keyObject = undefined
    }
    const check = keyObject && signatureCheck(alg, keyObject)
    if (check === undefined) return
    let byAlg = this.#checks.get(key)
    if (byAlg === undefined) this.#checks.set(key, (byAlg = new Map<string, SignatureCheck>()))
    byAlg.set(alg, check)
  }
}

const normalizeTyp = (value: string): string => {
  const lower = value.toLowerCase()
  return value.includes('/') ? lower : `application/${lower}`
}

function claimFailed(message: string, claims: JWTPayload, claim: string, reason: string): never {
  throw new errors.JWTClaimValidationFailed(message, claims, claim, reason)
}

function numericDate(claims: JWTPayload, claim: string, required: boolean): number | undefined {
  const value = claims[claim]
  if (value === undefined && !required) return undefined
  if (typeof value !== 'number') {
    claimFailed(`"${claim}" claim must be a number`, claims, claim, 'invalid')
  }
  return value
}

/**
 * The claim checks of jose's `jwtVerify`, in its order and with its errors, on a claims set this
 * module decoded: `typ`, the required claims, `iss`, `aud`, `nbf`, `exp` and `maxTokenAge`
 * (`maxTokenAge`, `issuer`, `audience` and `clockTolerance` as the verifier resolved them:
 * numbers and strings).
 */
export function checkClaims(
  jws: DecodedJws,
  options: Readonly<JWTVerifyOptions>,
  now: number,
): void {
  const { claims, header } = jws
  const { typ, requiredClaims = [], issuer, audience, maxTokenAge } = options
  const tolerance = typeof options.clockTolerance === 'number' ? options.clockTolerance : 0
  if (
    typ !== undefined &&
    (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(typ))
  ) {
    claimFailed('unexpected "typ" JWT header value', claims, 'typ', 'check_failed')
  }
  const presence = [...requiredClaims]
  if (maxTokenAge !== undefined) presence.push('iat')
  if (audience !== undefined) presence.push('aud')
  if (issuer !== undefined) presence.push('iss')
  for (const claim of new Set(presence.reverse())) {
    if (!Object.hasOwn(claims, claim)) {
      claimFailed(`missing required "${claim}" claim`, claims, claim, 'missing')
    }
  }
  const iss = claims.iss
  if (
    issuer !== undefined &&
    (typeof iss !== 'string' || !(Array.isArray(issuer) ? issuer : [issuer]).includes(iss))
  ) {
    claimFailed('unexpected "iss" claim value', claims, 'iss', 'check_failed')
  }
  if (audience !== undefined) {
    const allowed = typeof audience === 'string' ? [audience] : audience
    const aud = claims.aud
    const present =
      typeof aud === 'string'
        ? allowed.includes(aud)
        : Array.isArray(aud) && allowed.some((value) => aud.includes(value))
    if (!present) claimFailed('unexpected "aud" claim value', claims, 'aud', 'check_failed')
  }
  const iat = numericDate(claims, 'iat', maxTokenAge !== undefined)
  const nbf = numericDate(claims, 'nbf', false)
  if (nbf !== undefined && nbf > now + tolerance) {
    claimFailed('"nbf" claim timestamp check failed', claims, 'nbf', 'check_failed')
  }
  const exp = numericDate(claims, 'exp', false)
  if (exp !== undefined && exp <= now - tolerance) {
    throw new errors.JWTExpired('"exp" claim timestamp check failed', claims, 'exp', 'check_failed')
  }
  if (maxTokenAge !== undefined) {
    const age = now - (iat as number)
    if (typeof maxTokenAge !== 'number')
      throw new TypeError('maxTokenAge must be resolved to seconds')
    if (age - tolerance > maxTokenAge) {
      throw new errors.JWTExpired(
        '"iat" claim timestamp check failed (too far in the past)',
        claims,
        'iat',
        'check_failed',
      )
    }
    if (age < -tolerance) {
      claimFailed(
        '"iat" claim timestamp check failed (it should be in the past)',
        claims,
        'iat',
        'check_failed',
      )
    }
  }
}
