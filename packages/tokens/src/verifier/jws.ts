import {
  constants,
  createHmac,
  createPublicKey,
  createSecretKey,
  createVerify,
  KeyObject,
  timingSafeEqual,
  verify as nodeVerify,
  type JsonWebKey,
} from 'node:crypto'
import { setImmediate } from 'node:timers'
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

/**
 * RFC 7515 §7.1: three non-empty base64url segments. A JWE (five), a JWS JSON serialization, or
 * an unsecured JWT (empty signature) fails it, before any decoding. Access tokens, DPoP proofs
 * and Security Event Tokens are all tested against this one pattern.
 */
export const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

// A JSON object: not an array, not null (what JSON.parse gives for `{...}`).
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// A segment decoded to a JSON object, or `undefined`. No parse error is kept as a cause: V8's
// JSON.parse message quotes the input, and that input is the token.
function parseObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')))
    return isObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * A compact JWS whose claims are decoded when first read, after the signature check when the
 * verifier needs nothing from them to pick the key (one issuer): a forged token then costs no
 * claims decoding, as in jose's `jwtVerify`, which checks the signature first. Reading `claims`
 * throws jose's `JWTInvalid` for a claims set that is not a JSON object.
 */
class LazyClaimsJws implements DecodedJws {
  readonly signingInput: Buffer
  readonly signature: Buffer
  #claims: JWTPayload | undefined

  constructor(
    readonly token: string,
    readonly header: CompactJWSHeaderParameters,
    private readonly first: number,
    private readonly last: number,
  ) {
    // The token is ASCII (the preflight's pattern): one byte per character in any encoding.
    this.signingInput = Buffer.from(token.slice(0, last), 'latin1')
    this.signature = Buffer.from(token.slice(last + 1), 'base64url')
  }

  get claims(): JWTPayload {
    if (this.#claims === undefined) {
      const claims = parseObject(this.token.slice(this.first + 1, this.last))
      if (claims === undefined) {
        throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object')
      }
      this.#claims = claims
    }
    return this.#claims
  }
}

/**
 * Decodes the protected header of a compact JWS as {@link decodeJws} does, leaving its claims to
 * be decoded when first read.
 */
export function decodeJwsLazily(token: string): DecodedJws {
  const first = token.indexOf('.')
  const last = token.lastIndexOf('.')
  const header = parseObject(token.slice(0, first))
  if (header === undefined) throw new errors.JWSInvalid('JWS Protected Header is invalid')
  checkCrit(header)
  return new LazyClaimsJws(token, header as CompactJWSHeaderParameters, first, last)
}

/**
 * Decodes a compact JWS whose three segments the caller checked are non-empty base64url (the
 * verifier's preflight). Throws jose's `JWSInvalid` / `JWTInvalid`, as `jwtVerify` would, for a
 * header or claims set that is not a JSON object, and refuses what `jwtVerify` refuses in the
 * header: a `crit` naming anything but `b64`, and an unencoded payload (`b64: false`).
 */
export function decodeJws(token: string): DecodedJws {
  const jws = decodeJwsLazily(token)
  // Decoded now: a claims set that is not a JSON object throws here.
  void jws.claims
  return jws
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
  if (header.b64 === undefined) {
    throw new errors.JWSInvalid('Extension Header Parameter "b64" is missing')
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

/** What runs once a signature checked, as in `.then(valid)`: its answer is the check's. */
type Valid<T> = () => T
/** What runs when a signature did not check (or its check failed), as in `.then(_, refused)`. */
type Refused = (err: unknown) => never

/**
 * Checks a signature, then answers `valid()` (or resolves with it) when `signature` is the key's
 * signature of `input` under the alg; calls `refused` with the shared refusal otherwise.
 */
type SignatureCheck = <T>(
  input: Buffer,
  signature: Buffer,
  valid: Valid<T>,
  refused: Refused,
) => T | Promise<Awaited<T>>

// Node's own, taken when this module loads: fake timers installed later by a test (the app's or
// ours) do not stop signature checks from completing.
const later = setImmediate

type VerifyKey = Parameters<typeof nodeVerify>[2]

interface PendingCheck {
  readonly hash: string | null
  readonly input: Buffer
  readonly key: VerifyKey
  readonly signature: Buffer
  readonly valid: Valid<unknown>
  readonly refused: Refused
  readonly resolve: (value: unknown) => void
  readonly reject: (err: unknown) => void
}

// A check's continuation, run by the batch: the caller's promise settles with what it answers or
// throws, with no promise between the check and the continuation.
function settle(check: PendingCheck, valid: boolean, err: unknown): void {
  try {
    check.resolve(valid ? check.valid() : check.refused(err))
  } catch (thrown) {
    check.reject(thrown)
  }
}

// With a hash (RSA, PSS, ECDSA), Node's streaming `Verify`: one synchronous call into OpenSSL.
// The one-shot `crypto.verify` builds a job object per call (it can also run on the thread
// pool), 1-3 µs more per ES256 check, and leaves a weak handle that the next scavenge processes.
// Ed25519 has no hash and only the one-shot form.
function checkNow({ hash, input, key, signature }: PendingCheck): boolean {
  if (hash === null) return nodeVerify(null, input, key, signature)
  try {
    return createVerify(hash).update(input).verify(key, signature)
  } catch {
    // The streaming form throws where the one-shot form answers (a signature OpenSSL cannot
    // decode; ECDSA's wrong lengths are refused before the batch): asked again the one-shot
    // way, both refuse alike.
    return nodeVerify(hash, input, key, signature)
  }
}

/**
 * Node's signature checks, batched on the main thread: the checks asked for while the event loop
 * reads its sockets run one after the other once it has read them (in the loop's check phase),
 * with OpenSSL's code and tables still in the caches, where a check run inside each request's
 * callback evicts the JavaScript of the request around it and is evicted by it in turn. Over HTTP
 * this costs less CPU per fresh token than a check inside the request's callback, and less than
 * libuv's thread pool (as WebCrypto uses), whose hand-off (a queued work item, a thread wake-up
 * and an async wake of the loop per check) a loop with nothing else to do pays in full. Measured:
 * docs/performance.md.
 */
export class CheckBatch {
  #queue: PendingCheck[] = []
  readonly #flush = (): void => {
    const queue = this.#queue
    this.#queue = []
    for (const check of queue) {
      let valid: boolean
      try {
        valid = checkNow(check)
      } catch (err) {
        // A check that throws is refused alone, with Node's error; the rest of the batch runs.
        settle(check, false, err)
        continue
      }
      settle(check, valid, SIGNATURE_REFUSED)
    }
  }

  verify<T>(
    hash: string | null,
    input: Buffer,
    key: VerifyKey,
    signature: Buffer,
    valid: Valid<T>,
    refused: Refused,
  ): Promise<Awaited<T>> {
    return new Promise<Awaited<T>>((resolve, reject) => {
      if (this.#queue.length === 0) later(this.#flush)
      this.#queue.push({
        hash,
        input,
        key,
        signature,
        valid,
        refused,
        resolve: resolve as (value: unknown) => void,
        reject,
      })
    })
  }
}

// Node 20 has the class as a global only (\`webcrypto.CryptoKey\` is undefined there).
const WebCryptoKey = (globalThis as unknown as { CryptoKey: abstract new () => object }).CryptoKey

// The key in each form jose accepted it in: a KeyObject, a secret, a CryptoKey, or a JWK (which
// throws here if Node cannot read it; the pair then stays with jose).
function keyObjectOf(key: KeyInput): KeyObject {
  if (key instanceof KeyObject) return key
  if (key instanceof Uint8Array) return createSecretKey(key)
  if (key instanceof WebCryptoKey)
    return KeyObject.from(key as Parameters<typeof KeyObject.from>[0])
  const jwk = key as JsonWebKey
  if (jwk.kty === 'oct') return createSecretKey(Buffer.from(jwk.k as string, 'base64url'))
  return createPublicKey({ key: jwk, format: 'jwk' })
}

const ECDSA_SIGNATURE_BYTES: Readonly<Record<string, number>> = { ES256: 64, ES384: 96, ES512: 132 }

/**
 * Node's `crypto` check of `alg` with `key`, the same operation WebCrypto performs for jose. `alg`
 * is one of the supported algorithms (the preflight allowed it): every one but EdDSA names its
 * family and its hash (`ES384`: ECDSA with SHA-384). OpenSSL refuses an Ed25519 or RSASSA-PKCS1
 * signature of the wrong length by itself; ECDSA and PSS lengths are checked here.
 */
function signatureCheck(alg: string, key: KeyObject, batch: CheckBatch): SignatureCheck {
  if (alg === 'EdDSA' || alg === 'Ed25519') {
    return (input, signature, valid, refused) =>
      batch.verify(null, input, key, signature, valid, refused)
  }
  const bits = alg.slice(2)
  const hash = `sha${bits}`
  switch (alg.slice(0, 2)) {
    case 'HS':
      return (input, signature, valid, refused) => {
        const expected = createHmac(hash, key).update(input).digest()
        if (expected.length !== signature.length || !timingSafeEqual(expected, signature)) {
          return refused(SIGNATURE_REFUSED)
        }
        return valid()
      }
    case 'PS': {
      // RFC 7518 §3.5: a signature exactly as long as the modulus, and a salt as long as the
      // hash. OpenSSL accepts a PSS signature with its leading zero octets stripped (another
      // string, the same integer); this verifier does not.
      const bytes = Math.ceil(Number(key.asymmetricKeyDetails?.modulusLength) / 8)
      const pss = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 }
      return (input, signature, valid, refused) =>
        signature.length === bytes
          ? batch.verify(hash, input, pss, signature, valid, refused)
          : refused(SIGNATURE_REFUSED)
    }
    case 'ES': {
      // RFC 7518 §3.4: R and S, each as long as the curve's order (P-521: 66 octets), and
      // nothing else.
      const bytes = ECDSA_SIGNATURE_BYTES[alg]
      const options = { key, dsaEncoding: 'ieee-p1363' as const }
      return (input, signature, valid, refused) =>
        signature.length === bytes
          ? batch.verify(hash, input, options, signature, valid, refused)
          : refused(SIGNATURE_REFUSED)
    }
    default:
      return (input, signature, valid, refused) =>
        batch.verify(hash, input, key, signature, valid, refused)
  }
}

const nothing = (): void => undefined
const rethrow: Refused = (err) => {
  throw err
}

/**
 * Signature checks per key and algorithm. The first token a key verifies under an algorithm goes
 * through jose's `compactVerify`, which checks the key itself against the algorithm (key type,
 * curve, a CryptoKey's usages and algorithm, an RSA modulus of at least 2048 bits). Once jose
 * accepted the pair, its later tokens are checked with Node's `crypto` on the key's
 * `KeyObject`: the same OpenSSL operation WebCrypto runs, batched on the main thread, without a
 * second decoding of the token or jose's promise chain (an HMAC, cheap, is checked at once). A
 * pair jose refused is asked again every time, so it keeps failing exactly as jose fails it. A
 * token is accepted only when every check it meets accepts it: jose's and Node's for the first,
 * Node's for the next ones.
 */
export class SignatureChecks {
  readonly #checks = new WeakMap<object, Map<string, SignatureCheck>>()
  readonly #batch = new CheckBatch()

  /**
   * Checks the signature, then answers `valid()` (an HMAC, at once) or resolves with it; calls
   * `refused` with jose's error otherwise (a signature that does not check: one shared error, no
   * stack trace), which throws, or rejects the promise with what it throws. As
   * `check().then(valid, refused)`, without a promise between the check and `valid`.
   */
  verify<T>(
    jws: DecodedJws,
    key: KeyInput,
    valid: Valid<T>,
    refused: Refused,
  ): T | Promise<Awaited<T>> {
    const alg = String(jws.header.alg)
    const check = this.#checks.get(key)?.get(alg)
    // A promise answered with a promise takes on its outcome: Awaited, as the checks resolve.
    if (check === undefined) {
      return this.#first(jws, key, alg).then(valid, refused) as Promise<Awaited<T>>
    }
    return check(jws.signingInput, jws.signature, valid, refused)
  }

  /** Resolves (or answers) when the signature checks; throws or rejects as {@link verify}. */
  check(jws: DecodedJws, key: KeyInput): void | Promise<void> {
    return this.verify(jws, key, nothing, rethrow)
  }

  async #first(jws: DecodedJws, key: KeyInput, alg: string): Promise<void> {
    try {
      await compactVerify(jws.token, key, { algorithms: [alg] })
    } catch (err) {
      // A wrong signature means jose accepted the key for the alg: the pair is usable.
      if (err instanceof errors.JWSSignatureVerificationFailed) this.#learn(key, alg)
      throw err
    }
    // Node's check too, so that the first token meets the same checks as the next ones: WebCrypto
    // accepts a PSS signature with its leading zero octets stripped, Node's check does not.
    const check = this.#learn(key, alg)
    if (check !== undefined) await check(jws.signingInput, jws.signature, nothing, rethrow)
  }

  #learn(key: KeyInput, alg: string): SignatureCheck | undefined {
    let check: SignatureCheck
    try {
      check = signatureCheck(alg, keyObjectOf(key), this.#batch)
    } catch {
      return undefined
    }
    let byAlg = this.#checks.get(key)
    if (byAlg === undefined) this.#checks.set(key, (byAlg = new Map<string, SignatureCheck>()))
    byAlg.set(alg, check)
    return check
  }
}

const normalizeTyp = (value: string): string => {
  const lower = value.toLowerCase()
  return value.includes('/') ? lower : `application/${lower}`
}

function claimFailed(message: string, claims: JWTPayload, claim: string, reason: string): never {
  throw new errors.JWTClaimValidationFailed(message, claims, claim, reason)
}

// A NumericDate claim, when present (the presence checks ran first: `iat` under maxTokenAge).
function numericDate(claims: JWTPayload, claim: string): number | undefined {
  const value = claims[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'number') {
    claimFailed(`"${claim}" claim must be a number`, claims, claim, 'invalid')
  }
  return value
}

/** The claim checks of one set of options, compiled by {@link claimChecks}. */
export type ClaimChecks = (jws: DecodedJws, now: number) => void

/**
 * The claim checks of jose's `jwtVerify`, in its order and with its errors, on a claims set this
 * module decoded: `typ`, the required claims, `iss`, `aud`, `nbf`, `exp` and `maxTokenAge`
 * (`maxTokenAge`, `issuer`, `audience` and `clockTolerance` as the verifier resolved them:
 * numbers and strings). What depends on the options alone (the expected `typ`, the claims that
 * must be present, the allowed issuers and audiences) is worked out once, here.
 */
export function claimChecks(options: Readonly<JWTVerifyOptions>): ClaimChecks {
  const { typ, requiredClaims = [], issuer, audience, maxTokenAge } = options
  const tolerance = typeof options.clockTolerance === 'number' ? options.clockTolerance : 0
  const expectedTyp = typ === undefined ? undefined : normalizeTyp(typ)
  // jose's order: issuer, audience, maxTokenAge's `iat`, then the required claims, each once.
  const presence = [...requiredClaims]
  if (maxTokenAge !== undefined) presence.push('iat')
  if (audience !== undefined) presence.push('aud')
  if (issuer !== undefined) presence.push('iss')
  const required = [...new Set(presence.reverse())]
  const issuers = issuer === undefined ? undefined : Array.isArray(issuer) ? [...issuer] : [issuer]
  const audiences =
    audience === undefined ? undefined : typeof audience === 'string' ? [audience] : [...audience]
  return (jws, now) => {
    const { claims, header } = jws
    if (
      expectedTyp !== undefined &&
      (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== expectedTyp)
    ) {
      claimFailed('unexpected "typ" JWT header value', claims, 'typ', 'check_failed')
    }
    for (const claim of required) {
      if (!Object.hasOwn(claims, claim)) {
        claimFailed(`missing required "${claim}" claim`, claims, claim, 'missing')
      }
    }
    const iss = claims.iss
    if (issuers !== undefined && (typeof iss !== 'string' || !issuers.includes(iss))) {
      claimFailed('unexpected "iss" claim value', claims, 'iss', 'check_failed')
    }
    if (audiences !== undefined) {
      const aud = claims.aud
      const present =
        typeof aud === 'string'
          ? audiences.includes(aud)
          : Array.isArray(aud) && audiences.some((value) => aud.includes(value))
      if (!present) claimFailed('unexpected "aud" claim value', claims, 'aud', 'check_failed')
    }
    const iat = numericDate(claims, 'iat')
    const nbf = numericDate(claims, 'nbf')
    if (nbf !== undefined && nbf > now + tolerance) {
      claimFailed('"nbf" claim timestamp check failed', claims, 'nbf', 'check_failed')
    }
    const exp = numericDate(claims, 'exp')
    if (exp !== undefined && exp <= now - tolerance) {
      throw new errors.JWTExpired(
        '"exp" claim timestamp check failed',
        claims,
        'exp',
        'check_failed',
      )
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
}
