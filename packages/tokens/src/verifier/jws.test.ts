import {
  constants,
  createPrivateKey,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  KeyObject,
  sign as nodeSign,
  webcrypto,
} from 'node:crypto'
import { isPortcullisError } from '@portcullis/core'
import { buildPayload, createJwksServer } from '@portcullis/testing'
import * as jose from 'jose'
import { beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest'
import type { TokensOptions } from '../options/index.js'
import { supportedAlgorithms, type SupportedAlgorithm } from '../lib/algorithms.js'
import { createVerifier, type Verifier } from './create-verifier.js'
import { claimChecks, decodeJws, type DecodedJws } from './jws.js'

// jose's compactVerify is the first check of each key and algorithm; Node's crypto every
// one after. The tests below count the first kind.
vi.mock('jose', async (importOriginal) => {
  const original = await importOriginal<typeof jose>()
  return { ...original, compactVerify: vi.fn(original.compactVerify) }
})
let joseChecks: MockInstance<typeof jose.compactVerify>
beforeEach(() => {
  joseChecks = vi.mocked(jose.compactVerify)
  joseChecks.mockClear()
})

const ISSUER = 'https://auth.test'
const AUDIENCE = 'api'
const claims = (extra: jose.JWTPayload = {}): jose.JWTPayload =>
  buildPayload({ issuer: ISSUER, audience: AUDIENCE }, extra)

// Every algorithm the verifier accepts, the list the options are validated against.
type Alg = SupportedAlgorithm
const ALGORITHMS: readonly Alg[] = supportedAlgorithms

type Form = 'jwk' | 'keyObject' | 'cryptoKey' | 'secret'
const formsOf = (alg: Alg): Form[] =>
  alg.startsWith('HS')
    ? ['jwk', 'keyObject', 'cryptoKey', 'secret']
    : ['jwk', 'keyObject', 'cryptoKey']

interface Signer {
  readonly sign: (payload: jose.JWTPayload, header?: Record<string, unknown>) => Promise<string>
  /**
   * The verification key in each form an issuer may be given: a JWK, a KeyObject, a CryptoKey,
   * and for HMAC the secret's bytes.
   */
  readonly forms: Record<Exclude<Form, 'secret'>, jose.KeyInput> & { secret?: Uint8Array }
  readonly privateKey: jose.CryptoKey | Uint8Array
}

async function signerFor(alg: Alg): Promise<Signer> {
  if (alg.startsWith('HS')) {
    const secret = new Uint8Array(randomBytes(64))
    const jwk = { kty: 'oct', k: jose.base64url.encode(secret), alg }
    return {
      sign: (payload, header = {}) =>
        new jose.SignJWT(payload).setProtectedHeader({ alg, ...header }).sign(secret),
      forms: {
        jwk,
        keyObject: createSecretKey(secret),
        cryptoKey: await webcrypto.subtle.importKey(
          'raw',
          secret,
          { name: 'HMAC', hash: `SHA-${alg.slice(2)}` },
          false,
          ['verify'],
        ),
        secret,
      },
      privateKey: secret,
    }
  }
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true })
  const jwk = { ...(await jose.exportJWK(publicKey)), alg }
  return {
    sign: (payload, header = {}) =>
      new jose.SignJWT(payload).setProtectedHeader({ alg, ...header }).sign(privateKey),
    // The KeyObject carries no `alg`: jose's key selection cannot hide a verifier that ignores
    // the algorithm.
    forms: { jwk, keyObject: KeyObject.from(publicKey), cryptoKey: publicKey },
    privateKey,
  }
}

type KeySource = { jwks: { keys: jose.JWK[] } } | { keys: jose.KeyInput[] } | { jwksUri: string }

/** A verifier of one issuer allowing `algorithms`, with its keys from `source`, without cache. */
function verifierOf(algorithms: Alg[], source: KeySource): Verifier {
  const options: TokensOptions = {
    issuers: [{ issuer: ISSUER, audience: AUDIENCE, algorithms, typ: false, ...source }],
    cache: false,
  }
  return createVerifier(options)
}

function verifierFor(alg: Alg, key: jose.KeyInput, algorithms: Alg[] = [alg]): Verifier {
  const jwk = 'kty' in (key as object)
  return verifierOf(algorithms, jwk ? { jwks: { keys: [key as jose.JWK] } } : { keys: [key] })
}

async function codeOf(verifier: Verifier, token: string): Promise<string> {
  try {
    await verifier.verify(token)
    return 'accepted'
  } catch (err) {
    return isPortcullisError(err) ? err.code : `not a PortcullisError: ${String(err)}`
  }
}

/** The code of a refusal and the class of the error it wraps. */
async function refusalOf(
  verifier: Verifier,
  token: string,
): Promise<{ code: string; cause: string } | 'accepted'> {
  try {
    await verifier.verify(token)
    return 'accepted'
  } catch (err) {
    if (!isPortcullisError(err)) throw err
    return { code: err.code, cause: (err.cause as Error | undefined)?.constructor.name ?? 'none' }
  }
}

const segments = (token: string): [string, string, string] => token.split('.') as never
const flipBit = (segment: string, index: number): string => {
  const bytes = Buffer.from(segment, 'base64url')
  bytes[(index + bytes.length) % bytes.length]! ^= 1
  return bytes.toString('base64url')
}

describe.each(ALGORITHMS)('%s: the first token through jose, the next ones through Node', (alg) => {
  it.each(formsOf(alg))(
    'with the key as a %s, accepts genuine tokens and refuses every altered one',
    async (form) => {
      const signer = await signerFor(alg)
      const other = await signerFor(alg)
      const verifier = verifierFor(alg, signer.forms[form]!)
      expect(await codeOf(verifier, await signer.sign(claims({ sub: 'first' })))).toBe('accepted')
      expect(joseChecks).toHaveBeenCalledTimes(1)

      const genuine = await signer.sign(claims({ sub: 'user-1' }))
      expect(await codeOf(verifier, genuine)).toBe('accepted')
      const [header, payload, signature] = segments(genuine)
      const forged = [
        // A bit flipped at the start, the middle and the end of the signature.
        `${header}.${payload}.${flipBit(signature, 0)}`,
        `${header}.${payload}.${flipBit(signature, 17)}`,
        `${header}.${payload}.${flipBit(signature, -1)}`,
        // One byte short, one byte long.
        `${header}.${payload}.${Buffer.from(signature, 'base64url').subarray(1).toString('base64url')}`,
        `${header}.${payload}.${Buffer.concat([Buffer.from(signature, 'base64url'), Buffer.of(0)]).toString('base64url')}`,
        // The signature over other bytes: another subject, another header.
        `${header}.${jose.base64url.encode(JSON.stringify(claims({ sub: 'admin' })))}.${signature}`,
        `${jose.base64url.encode(JSON.stringify({ alg, kid: 'x' }))}.${payload}.${signature}`,
        // Another key's signature of the same claims.
        await other.sign(jose.decodeJwt(genuine)),
      ]
      // Each refused as jose refuses a bad signature, the stack trace limit left as it was.
      const stackTraceLimit = Error.stackTraceLimit
      for (const token of forged) {
        expect(await refusalOf(verifier, token)).toEqual({
          code: 'PCL_TOKEN_INVALID',
          cause: 'JWSSignatureVerificationFailed',
        })
      }
      expect(Error.stackTraceLimit).toBe(stackTraceLimit)
      expect(await codeOf(verifier, genuine)).toBe('accepted')
      // Every token after the first went through Node's crypto, not jose.
      expect(joseChecks).toHaveBeenCalledTimes(1)
    },
  )
})

describe('what jose checks on the key, Node inherits per key and algorithm', () => {
  it('a key learned for one algorithm is checked by jose again for another', async () => {
    const { publicKey, privateKey } = await jose.generateKeyPair('RS256', { extractable: true })
    const keyObject = KeyObject.from(publicKey)
    const verifier = verifierFor('RS256', keyObject, ['RS256', 'PS256'])
    const rs = await new jose.SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256' })
      .sign(privateKey)
    expect(await codeOf(verifier, rs)).toBe('accepted')
    const pssKey = await jose.importJWK(
      { ...(await jose.exportJWK(privateKey)), alg: 'PS256' },
      'PS256',
    )
    const ps = await new jose.SignJWT(claims()).setProtectedHeader({ alg: 'PS256' }).sign(pssKey)
    expect(await codeOf(verifier, ps)).toBe('accepted')
    expect(joseChecks).toHaveBeenCalledTimes(2)
    // An RS256 signature presented as PS256 (and the reverse) fails on the learned pair.
    const [, payload, rsSignature] = segments(rs)
    const [psHeader, psPayload, psSignature] = segments(ps)
    expect(await codeOf(verifier, `${psHeader}.${payload}.${rsSignature}`)).toBe(
      'PCL_TOKEN_INVALID',
    )
    expect(await codeOf(verifier, `${segments(rs)[0]}.${psPayload}.${psSignature}`)).toBe(
      'PCL_TOKEN_INVALID',
    )
    // Learning the second algorithm kept the first: new tokens of both go through Node.
    const rsAgain = await new jose.SignJWT(claims({ sub: 'rs-again' }))
      .setProtectedHeader({ alg: 'RS256' })
      .sign(privateKey)
    const psAgain = await new jose.SignJWT(claims({ sub: 'ps-again' }))
      .setProtectedHeader({ alg: 'PS256' })
      .sign(pssKey)
    expect(await codeOf(verifier, rsAgain)).toBe('accepted')
    expect(await codeOf(verifier, psAgain)).toBe('accepted')
    expect(joseChecks).toHaveBeenCalledTimes(2)
  })

  it('a key jose refused a signature for is learned: the next tokens go through Node', async () => {
    const signer = await signerFor('ES256')
    const attacker = await signerFor('ES256')
    const verifier = verifierFor('ES256', signer.forms.keyObject)
    expect(await codeOf(verifier, await attacker.sign(claims()))).toBe('PCL_TOKEN_INVALID')
    expect(joseChecks).toHaveBeenCalledTimes(1)
    expect(await codeOf(verifier, await signer.sign(claims()))).toBe('accepted')
    expect(await codeOf(verifier, await attacker.sign(claims()))).toBe('PCL_TOKEN_INVALID')
    expect(joseChecks).toHaveBeenCalledTimes(1)
  })

  it('tries every key that fits a token without kid, on Node once each key is learned', async () => {
    const [a, b] = await Promise.all([signerFor('ES256'), signerFor('ES256')])
    const verifier = verifierOf(['ES256'], { keys: [a.forms.keyObject, b.forms.keyObject] })
    for (let round = 0; round < 3; round++) {
      expect(await codeOf(verifier, await a.sign(claims({ sub: `a${round}` })))).toBe('accepted')
      expect(await codeOf(verifier, await b.sign(claims({ sub: `b${round}` })))).toBe('accepted')
    }
    const stranger = await signerFor('ES256')
    expect(await refusalOf(verifier, await stranger.sign(claims()))).toEqual({
      code: 'PCL_TOKEN_INVALID',
      cause: 'JWSSignatureVerificationFailed',
    })
    // The first token's check of a (jose), then b's first check after a's refusal (jose again).
    expect(joseChecks).toHaveBeenCalledTimes(2)
  })

  it('refuses a kid-less token when a candidate key before the signer is one jose refuses', async () => {
    // jose's recipe for several matching keys: only a wrong signature moves on to the next key;
    // a key jose will not use (a published 1024-bit RSA key) ends the search, failing closed.
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const jwk = (key: KeyObject): jose.JWK => key.export({ format: 'jwk' })
    const server = createJwksServer({ keys: [jwk(weak.publicKey), jwk(publicKey)] })
    try {
      const verifier = verifierOf(['RS256'], { jwksUri: await server.listen() })
      const token = await new jose.SignJWT(claims())
        .setProtectedHeader({ alg: 'RS256' })
        .sign(privateKey)
      expect(await refusalOf(verifier, token)).toEqual({
        code: 'PCL_TOKEN_INVALID',
        cause: 'TypeError',
      })
    } finally {
      await server.close()
    }
  })

  it.each([
    ['shorter', 20],
    ['longer', 64],
    ['empty', 0],
  ])('refuses a PS256 signature whose salt is %s than the hash, warm or cold', async (_, salt) => {
    const { publicKey, privateKey } = await jose.generateKeyPair('PS256', { extractable: true })
    const verifier = verifierFor('PS256', KeyObject.from(publicKey))
    const signed = async (saltLength: number): Promise<string> => {
      const input = `${jose.base64url.encode(JSON.stringify({ alg: 'PS256' }))}.${jose.base64url.encode(JSON.stringify(claims()))}`
      const key = createPrivateKey({
        key: (await jose.exportJWK(privateKey)) as never,
        format: 'jwk',
      })
      const signature = nodeSign('sha256', Buffer.from(input), {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength,
      })
      return `${input}.${signature.toString('base64url')}`
    }
    expect(await codeOf(verifier, await signed(salt))).toBe('PCL_TOKEN_INVALID')
    expect(await codeOf(verifier, await signed(32))).toBe('accepted')
    expect(await codeOf(verifier, await signed(salt))).toBe('PCL_TOKEN_INVALID')
  })

  it('a key jose refuses (a published 1024-bit RSA key) is refused by jose every time', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const server = createJwksServer({
      keys: [{ ...(publicKey.export({ format: 'jwk' }) as jose.JWK), kid: 'short' }],
    })
    try {
      const verifier = verifierOf(['RS256'], { jwksUri: await server.listen() })
      const signed = (sub: string): string => {
        const input = `${jose.base64url.encode(JSON.stringify({ alg: 'RS256', kid: 'short' }))}.${jose.base64url.encode(JSON.stringify(claims({ sub })))}`
        return `${input}.${nodeSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
      }
      for (const sub of ['a', 'b', 'c']) {
        expect(await codeOf(verifier, signed(sub))).toBe('PCL_TOKEN_INVALID')
      }
      expect(joseChecks).toHaveBeenCalledTimes(3)
    } finally {
      await server.close()
    }
  })

  // OpenSSL refuses a PKCS #1 v1.5 signature shorter than the modulus by itself; a PSS one it
  // accepts, so the verifier checks that length.
  it.each([
    ['RS256', { padding: constants.RSA_PKCS1_PADDING }],
    ['PS256', { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }],
  ] as const)(
    'refuses an %s signature with its leading zero octet stripped, warm or cold',
    async (alg, padding) => {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
      const verifier = verifierFor(alg, publicKey)
      const header = jose.base64url.encode(JSON.stringify({ alg }))
      // Sign until a signature starts with a zero octet (1 in 256).
      const zeroLed = (from: number): { input: string; signature: Buffer } => {
        for (let i = from; ; i++) {
          const input = `${header}.${jose.base64url.encode(JSON.stringify(claims({ sub: `user-${i}` })))}`
          const signature = nodeSign('sha256', Buffer.from(input), { key: privateKey, ...padding })
          if (signature[0] === 0) return { input, signature }
        }
      }
      const cold = zeroLed(0)
      const stripped = (signed: { input: string; signature: Buffer }): string =>
        `${signed.input}.${signed.signature.subarray(1).toString('base64url')}`
      expect(await codeOf(verifier, stripped(cold))).toBe('PCL_TOKEN_INVALID')
      expect(await codeOf(verifier, `${cold.input}.${cold.signature.toString('base64url')}`)).toBe(
        'accepted',
      )
      expect(await codeOf(verifier, stripped(cold))).toBe('PCL_TOKEN_INVALID')
      expect(await codeOf(verifier, stripped(zeroLed(1_000_000)))).toBe('PCL_TOKEN_INVALID')
      expect(joseChecks).toHaveBeenCalledTimes(1)
    },
  )

  it('refuses an ECDSA signature whose coordinates are padded with a zero octet', async () => {
    const signer = await signerFor('ES256')
    const verifier = verifierFor('ES256', signer.forms.keyObject)
    const genuine = await signer.sign(claims())
    expect(await codeOf(verifier, genuine)).toBe('accepted')
    const [header, payload, signature] = segments(genuine)
    const raw = Buffer.from(signature, 'base64url')
    const padded = Buffer.concat([
      Buffer.of(0),
      raw.subarray(0, 32),
      Buffer.of(0),
      raw.subarray(32),
    ])
    expect(await codeOf(verifier, `${header}.${payload}.${padded.toString('base64url')}`)).toBe(
      'PCL_TOKEN_INVALID',
    )
    expect(joseChecks).toHaveBeenCalledTimes(1)
  })

  it('refuses an ECDSA signature in DER form (JWS signatures are the raw r and s)', async () => {
    const signer = await signerFor('ES256')
    const verifier = verifierFor('ES256', signer.forms.keyObject)
    const genuine = await signer.sign(claims())
    expect(await codeOf(verifier, genuine)).toBe('accepted')
    const [header, payload] = segments(genuine)
    const der = nodeSign('sha256', Buffer.from(`${header}.${payload}`), {
      key: KeyObject.from(signer.privateKey as never),
      dsaEncoding: 'der',
    })
    expect(await codeOf(verifier, `${header}.${payload}.${der.toString('base64url')}`)).toBe(
      'PCL_TOKEN_INVALID',
    )
  })
})

describe('the header and claims jwtVerify refuses, refused without it', () => {
  let signer: Signer
  let verifier: Verifier
  beforeEach(async () => {
    signer ??= await signerFor('ES256')
    verifier ??= verifierFor('ES256', signer.forms.keyObject)
    // Learned: the tokens below meet Node's path.
    expect(await codeOf(verifier, await signer.sign(claims()))).toBe('accepted')
  })

  it.each([
    ['an unknown critical extension', { crit: ['exp'], exp: 1 }],
    ['an unknown critical extension beside b64', { crit: ['b64', 'exp'], b64: true, exp: 1 }],
    ['an empty crit', { crit: [] }],
    ['a crit that is not a list', { crit: 'b64' }],
    ['a crit naming b64 twice', { crit: ['b64', 'b64'], b64: true }],
    ['an unencoded payload (b64: false)', { crit: ['b64'], b64: false }],
    ['b64 that is not a boolean', { crit: ['b64'], b64: 'true' }],
  ])('refuses a header with %s', async (_, header) => {
    const key = signer.privateKey as jose.CryptoKey
    const input = `${jose.base64url.encode(JSON.stringify({ alg: 'ES256', ...header }))}.${jose.base64url.encode(JSON.stringify(claims()))}`
    const signature = nodeSign('sha256', Buffer.from(input), {
      key: KeyObject.from(key),
      dsaEncoding: 'ieee-p1363',
    })
    expect(await codeOf(verifier, `${input}.${signature.toString('base64url')}`)).toBe(
      'PCL_TOKEN_INVALID',
    )
  })

  it('accepts b64: true declared critical, as jwtVerify does', async () => {
    const key = signer.privateKey as jose.CryptoKey
    const input = `${jose.base64url.encode(JSON.stringify({ alg: 'ES256', crit: ['b64'], b64: true }))}.${jose.base64url.encode(JSON.stringify(claims()))}`
    const signature = nodeSign('sha256', Buffer.from(input), {
      key: KeyObject.from(key),
      dsaEncoding: 'ieee-p1363',
    })
    expect(await codeOf(verifier, `${input}.${signature.toString('base64url')}`)).toBe('accepted')
  })

  const signRaw = (header: string, payload: string): string => {
    const input = `${header}.${payload}`
    const signature = nodeSign('sha256', Buffer.from(input), {
      key: KeyObject.from(signer.privateKey as never),
      dsaEncoding: 'ieee-p1363',
    })
    return `${input}.${signature.toString('base64url')}`
  }
  const encoded = (value: unknown): string => jose.base64url.encode(JSON.stringify(value))

  it.each([
    ['a header that is an array', encoded([{ alg: 'ES256' }]), encoded(claims())],
    ['a header that is null', encoded(null), encoded(claims())],
    ['claims that are an array', encoded({ alg: 'ES256' }), encoded([claims()])],
    ['claims that are a string', encoded({ alg: 'ES256' }), encoded('claims')],
    [
      'claims that are not UTF-8',
      encoded({ alg: 'ES256' }),
      Buffer.concat([
        Buffer.from(JSON.stringify(claims()).slice(0, -1)),
        Buffer.from(',"x":"'),
        Buffer.of(0xff, 0xfe),
        Buffer.from('"}'),
      ]).toString('base64url'),
    ],
  ])('refuses %s, correctly signed', async (_, header, payload) => {
    expect(await codeOf(verifier, signRaw(header, payload))).toBe('PCL_TOKEN_INVALID')
  })
})

describe('claimChecks: the claim checks of jwtVerify, at their boundaries', () => {
  const NOW = 1_800_000_000
  const options: jose.JWTVerifyOptions = {
    issuer: ISSUER,
    audience: AUDIENCE,
    clockTolerance: 5,
    requiredClaims: ['exp', 'sub'],
  }
  const decoded = (
    payload: Record<string, unknown>,
    header: Record<string, unknown> = {},
  ): DecodedJws =>
    decodeJws(
      `${jose.base64url.encode(JSON.stringify({ alg: 'ES256', ...header }))}.${jose.base64url.encode(JSON.stringify(payload))}.c2ln`,
    )
  const base = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', exp: NOW + 60 }
  const outcome = (
    payload: Record<string, unknown>,
    more: jose.JWTVerifyOptions = {},
    header: Record<string, unknown> = {},
  ): string => {
    try {
      claimChecks({ ...options, ...more })(decoded(payload, header), NOW)
      return 'ok'
    } catch (err) {
      if (err instanceof jose.errors.JWTExpired) return `expired ${err.claim}`
      if (err instanceof jose.errors.JWTClaimValidationFailed) return `${err.reason} ${err.claim}`
      return `other: ${String(err)}`
    }
  }

  it('aud: one of the accepted audiences, as a string or in an array', () => {
    expect(outcome(base)).toBe('ok')
    expect(outcome({ ...base, aud: ['other', AUDIENCE] })).toBe('ok')
    expect(outcome({ ...base, aud: ['other', 'api2'] })).toBe('check_failed aud')
    expect(outcome({ ...base, aud: [] })).toBe('check_failed aud')
    expect(outcome({ ...base, aud: 'other' })).toBe('check_failed aud')
    expect(outcome({ ...base, aud: 42 })).toBe('check_failed aud')
    expect(outcome({ ...base, aud: undefined })).toBe('missing aud')
    expect(outcome({ ...base, aud: 'x' }, { audience: ['x', 'y'] })).toBe('ok')
  })

  it('iss: present and the configured one', () => {
    expect(outcome({ ...base, iss: undefined })).toBe('missing iss')
    expect(outcome({ ...base, iss: 'https://other.test' })).toBe('check_failed iss')
    expect(outcome({ ...base, iss: 7 })).toBe('check_failed iss')
  })

  it('required claims are own properties of the claims set', () => {
    expect(outcome({ ...base, sub: undefined })).toBe('missing sub')
    expect(outcome(base, { requiredClaims: ['exp', 'sub', 'jti'] })).toBe('missing jti')
    expect(outcome({ ...base, jti: 'j' }, { requiredClaims: ['jti'] })).toBe('ok')
  })

  it('exp: refused at now minus the tolerance, accepted a second later; a number', () => {
    expect(outcome({ ...base, exp: NOW - 5 })).toBe('expired exp')
    expect(outcome({ ...base, exp: NOW - 4 })).toBe('ok')
    expect(outcome({ ...base, exp: String(NOW + 60) })).toBe('invalid exp')
  })

  it('nbf: accepted up to now plus the tolerance, refused a second later; a number', () => {
    expect(outcome({ ...base, nbf: NOW + 5 })).toBe('ok')
    expect(outcome({ ...base, nbf: NOW + 6 })).toBe('check_failed nbf')
    expect(outcome({ ...base, nbf: 'soon' })).toBe('invalid nbf')
  })

  it('maxTokenAge: iat required, at most that old (with the tolerance), never in the future', () => {
    const aged = { maxTokenAge: 300 }
    expect(outcome(base, aged)).toBe('missing iat')
    expect(outcome({ ...base, iat: NOW - 305 }, aged)).toBe('ok')
    expect(outcome({ ...base, iat: NOW - 306 }, aged)).toBe('expired iat')
    expect(outcome({ ...base, iat: NOW + 5 }, aged)).toBe('ok')
    expect(outcome({ ...base, iat: NOW + 6 }, aged)).toBe('check_failed iat')
    expect(outcome({ ...base, iat: 'now' }, aged)).toBe('invalid iat')
    // Without maxTokenAge, iat is optional but still a number when present.
    expect(outcome(base)).toBe('ok')
    expect(outcome({ ...base, iat: 'now' })).toBe('invalid iat')
  })

  it('typ: compared without case and without the application/ prefix, required when set', () => {
    const typed = { typ: 'at+jwt' }
    expect(outcome(base, typed, { typ: 'at+jwt' })).toBe('ok')
    expect(outcome(base, typed, { typ: 'AT+JWT' })).toBe('ok')
    expect(outcome(base, typed, { typ: 'application/at+jwt' })).toBe('ok')
    expect(outcome(base, typed, { typ: 'JWT' })).toBe('check_failed typ')
    expect(outcome(base, typed, { typ: 'text/at+jwt' })).toBe('check_failed typ')
    expect(outcome(base, typed)).toBe('check_failed typ')
    expect(outcome(base, typed, { typ: 1 })).toBe('check_failed typ')
    expect(outcome(base, {}, { typ: 'anything' })).toBe('ok')
  })

  it('maxTokenAge not resolved to seconds fails closed rather than comparing with a string', () => {
    expect(() =>
      claimChecks({ ...options, maxTokenAge: '5m' })(decoded({ ...base, iat: NOW }), NOW),
    ).toThrow(/maxTokenAge must be resolved to seconds/)
  })

  it.each([
    ['a crit with an empty name', { crit: [''] }],
    ['a crit with a number', { crit: [1] }],
    ['a crit that is a string', { crit: 'b64', b64: true }],
  ])('decodeJws refuses %s', (_, header) => {
    expect(() => decoded(base, header)).toThrow(jose.errors.JWSInvalid)
  })
})

// decodeJws and claimChecks restate what jwtVerify refuses in the header and the claims. Every
// correctly signed token below is given to both: each refusal must be jose's own error (class,
// code, claim, reason, message), so a log reads the same whichever path refused the token.
describe('decodeJws and claimChecks refuse what jwtVerify refuses, with its errors', () => {
  const NOW = 1_800_000_000
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const rawSegment = (value: unknown): string =>
    Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
  const signed = (header: string, payload: string): string => {
    const input = `${header}.${payload}`
    const signature = nodeSign('sha256', Buffer.from(input), {
      key: privateKey,
      dsaEncoding: 'ieee-p1363',
    })
    return `${input}.${signature.toString('base64url')}`
  }
  const describeError = (err: unknown): Record<string, unknown> => {
    if (!(err instanceof Error)) return { thrown: String(err) }
    const { claim, reason, code } = err as Partial<jose.errors.JWTClaimValidationFailed>
    return { class: err.constructor.name, code, claim, reason, message: err.message }
  }
  const ours = (token: string, options: jose.JWTVerifyOptions): Record<string, unknown> => {
    try {
      claimChecks(options)(decodeJws(token), NOW)
      return { accepted: true }
    } catch (err) {
      return describeError(err)
    }
  }
  const joses = async (
    token: string,
    options: jose.JWTVerifyOptions,
  ): Promise<Record<string, unknown>> => {
    try {
      await jose.jwtVerify(token, publicKey, { ...options, currentDate: new Date(NOW * 1000) })
      return { accepted: true }
    } catch (err) {
      return describeError(err)
    }
  }

  const full: jose.JWTVerifyOptions = {
    issuer: ISSUER,
    audience: AUDIENCE,
    clockTolerance: 5,
    requiredClaims: ['exp', 'sub'],
  }
  const valid = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', exp: NOW + 60 }

  it.each([
    ['an unknown critical extension', { crit: ['exp'], exp: 1 }],
    ['an unknown critical extension beside b64', { crit: ['b64', 'exp'], b64: true, exp: 1 }],
    ['an empty crit', { crit: [] }],
    ['a crit that is a string', { crit: 'b64', b64: true }],
    ['a crit with an empty name', { crit: [''] }],
    ['a crit with a number', { crit: [1] }],
    ['a crit with b64 and a number', { crit: ['b64', 1], b64: true }],
    ['a crit with b64 and an empty name', { crit: ['b64', ''], b64: true }],
    ['b64 declared critical but absent', { crit: ['b64'] }],
    ['an unencoded payload (b64: false)', { crit: ['b64'], b64: false }],
    ['b64 that is not a boolean', { crit: ['b64'], b64: 'true' }],
    ['b64 declared critical', { crit: ['b64'], b64: true }],
  ])('the header: %s', async (_, header) => {
    const token = signed(rawSegment({ alg: 'ES256', ...header }), rawSegment(valid))
    expect(ours(token, full)).toEqual(await joses(token, full))
  })

  it('the header: a crit naming b64 twice, which RFC 7515 lets a recipient refuse and jose accepts', async () => {
    const token = signed(
      rawSegment({ alg: 'ES256', crit: ['b64', 'b64'], b64: true }),
      rawSegment(valid),
    )
    expect(await joses(token, full)).toEqual({ accepted: true })
    expect(ours(token, full)).toMatchObject({ class: 'JWSInvalid', code: 'ERR_JWS_INVALID' })
  })

  it.each([
    ['a header that is an array', rawSegment([{ alg: 'ES256' }]), rawSegment(valid)],
    ['a header that is null', rawSegment(null), rawSegment(valid)],
    ['a header that is not JSON', rawSegment('{"alg":"ES256"'), rawSegment(valid)],
    ['claims that are an array', rawSegment({ alg: 'ES256' }), rawSegment([valid])],
    ['claims that are a string', rawSegment({ alg: 'ES256' }), rawSegment('"claims"')],
    ['claims that are not JSON', rawSegment({ alg: 'ES256' }), rawSegment('{"sub":')],
    [
      'claims that are not UTF-8',
      rawSegment({ alg: 'ES256' }),
      Buffer.concat([Buffer.from('{"sub":"'), Buffer.of(0xff, 0xfe), Buffer.from('"}')]).toString(
        'base64url',
      ),
    ],
  ])('the segments: %s', async (_, header, payload) => {
    const token = signed(header, payload)
    const theirs = await joses(token, full)
    // jose checks the header before the signature, the claims after: here both come first.
    expect(theirs.accepted).toBeUndefined()
    expect(ours(token, full)).toEqual(theirs)
  })

  const claimCases: [string, Record<string, unknown>][] = [
    ['a valid claims set', valid],
    ['no iss, no aud, no sub', { exp: NOW + 60 }],
    ['no aud, no sub', { iss: ISSUER, exp: NOW + 60 }],
    ['no sub', { iss: ISSUER, aud: AUDIENCE, exp: NOW + 60 }],
    ['no exp', { iss: ISSUER, aud: AUDIENCE, sub: 'user-1' }],
    ['another iss', { ...valid, iss: 'https://other.test' }],
    ['an iss that is a number', { ...valid, iss: 7 }],
    ['another aud', { ...valid, aud: 'other' }],
    ['an aud list without ours', { ...valid, aud: ['other', 'api2'] }],
    ['an aud list with ours', { ...valid, aud: ['other', AUDIENCE] }],
    ['an aud that is a number', { ...valid, aud: 42 }],
    ['an exp that is a string', { ...valid, exp: String(NOW + 60) }],
    ['an exp at now minus the tolerance', { ...valid, exp: NOW - 5 }],
    ['an exp a second later', { ...valid, exp: NOW - 4 }],
    ['an exp just past', { ...valid, exp: NOW }],
    ['an nbf at now plus the tolerance', { ...valid, nbf: NOW + 5 }],
    ['an nbf a second later', { ...valid, nbf: NOW + 6 }],
    ['an nbf that is a string', { ...valid, nbf: 'soon' }],
    ['an iat that is a string', { ...valid, iat: 'now' }],
    ['an iat 305 s old', { ...valid, iat: NOW - 305 }],
    ['an iat 306 s old', { ...valid, iat: NOW - 306 }],
    ['an iat 5 s ahead', { ...valid, iat: NOW + 5 }],
    ['an iat 6 s ahead', { ...valid, iat: NOW + 6 }],
    ['an iat 1 s ahead', { ...valid, iat: NOW + 1 }],
  ]
  const optionSets: [string, jose.JWTVerifyOptions, Record<string, unknown>?][] = [
    ['the verifier’s options', full],
    ['maxTokenAge', { ...full, maxTokenAge: 300 }],
    [
      'maxTokenAge without tolerance',
      { issuer: ISSUER, audience: AUDIENCE, requiredClaims: ['exp', 'sub'], maxTokenAge: 300 },
    ],
    ['typ, matching', { ...full, typ: 'at+jwt' }, { typ: 'application/AT+JWT' }],
    ['typ, another', { ...full, typ: 'at+jwt' }, { typ: 'JWT' }],
    ['typ, another media type', { ...full, typ: 'at+jwt' }, { typ: 'text/at+jwt' }],
    ['typ, absent', { ...full, typ: 'at+jwt' }],
    ['typ, a number', { ...full, typ: 'at+jwt' }, { typ: 1 }],
    ['no options', {}],
    ['an issuer only', { issuer: ISSUER }],
    ['audiences only', { audience: ['x', AUDIENCE] }],
  ]
  it.each(optionSets)('the claims, with %s', async (_, options, header = {}) => {
    for (const [name, payload] of claimCases) {
      const token = signed(rawSegment({ alg: 'ES256', ...header }), rawSegment(payload))
      expect({ name, ...ours(token, options) }).toEqual({
        name,
        ...(await joses(token, options)),
      })
    }
  })
})
