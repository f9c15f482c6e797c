import { isPortcullisError, type Principal } from '@portcullis/core'
import { CompactSign } from 'jose'
import { NO_TELEMETRY, type Telemetry } from '@portcullis/core/internal'
import {
  buildPayload,
  createJwksServer,
  createTestKey,
  epochSeconds,
  signToken,
  type MintOptions,
  type TestKey,
} from '@portcullis/testing'
import {
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  vi,
  type MockInstance,
} from 'vitest'
import type { TokensOptions } from '../options/index.js'
import { buildVerifier, createVerifier, type Verifier } from './create-verifier.js'
import { SignatureChecks } from './jws.js'

// What the verifier itself decides before and around the signature and claim checks: the
// token's shape, the preflight, the cache's bounds, revocation deadlines, and what it reports.

const ISSUER = 'https://auth.test'
const AUDIENCE = 'api'

let key: TestKey

beforeAll(async () => {
  key = await createTestKey({ kid: 'k1', alg: 'ES256' })
})

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

const issuerOptions = { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256' as const] }

function verifierWith(
  options: Omit<TokensOptions, 'issuers'> = {},
  maxTokenAge?: number,
): Verifier {
  return createVerifier({
    issuers: [
      { ...issuerOptions, jwks: { keys: [key.jwk] }, ...(maxTokenAge ? { maxTokenAge } : {}) },
    ],
    ...options,
  })
}

const token = (extra: MintOptions = {}): Promise<string> =>
  signToken(key, buildPayload({ issuer: ISSUER, audience: AUDIENCE }, extra))

/** `accepted`, or the code of the refusal (thrown at once or rejected). */
async function outcomeOf(run: () => unknown): Promise<string> {
  try {
    await run()
    return 'accepted'
  } catch (err) {
    return isPortcullisError(err) ? err.code : `other ${String(err)}`
  }
}

// The signature checks the verifier makes: a call answered from the cache makes none.
let signatureChecks: MockInstance<SignatureChecks['verify']>
beforeEach(() => {
  signatureChecks = vi.spyOn(SignatureChecks.prototype, 'verify')
})

/** Whether `run` was answered from the cache: no signature checked. */
async function fromCache(run: () => unknown): Promise<boolean> {
  const before = signatureChecks.mock.calls.length
  await outcomeOf(run)
  return signatureChecks.mock.calls.length === before
}

describe('the token’s shape, before anything is decoded', () => {
  it('refuses a token that is not a string as an invalid token, never a TypeError', async () => {
    const verifier = verifierWith()
    for (const value of [undefined, null, 42, {}, ['a.b.c']]) {
      expect(await outcomeOf(() => verifier.verify(value as never))).toBe('PCL_TOKEN_INVALID')
    }
  })

  it('refuses a genuine token whose signature segment is padded or holds a character base64url ignores', async () => {
    const verifier = verifierWith()
    const genuine = await token()
    expect(await outcomeOf(() => verifier.verify(genuine))).toBe('accepted')
    // Node's base64url decoder skips these, so the signature bytes are the genuine ones: only the
    // compact serialization's alphabet (RFC 7515 §7.1) refuses the altered strings.
    for (const altered of [
      `${genuine}=`,
      `${genuine}==`,
      `${genuine}+`,
      `${genuine.slice(0, -2)} ${genuine.slice(-2)}`,
    ]) {
      expect(await outcomeOf(() => verifier.verify(altered))).toBe('PCL_TOKEN_INVALID')
    }
  })

  it('refuses what is not a token68, a cached token with characters added included', async () => {
    const verifier = verifierWith()
    const genuine = await token()
    expect(await outcomeOf(() => verifier.verify(genuine))).toBe('accepted')
    expect(await fromCache(() => verifier.verify(genuine))).toBe(true)
    // The authenticator leaves the token68 test of a bearer token to the verifier: only the exact
    // string verified before is a cache hit; anything else is tested, then refused.
    for (const altered of [
      `${genuine} `,
      ` ${genuine}`,
      `${genuine}, ${genuine}`,
      `${genuine.slice(0, 10)}é${genuine.slice(11)}`,
      `${genuine}
`,
    ]) {
      expect(await outcomeOf(() => verifier.verify(altered))).toBe('PCL_TOKEN_INVALID')
    }
  })

  it('refuses a correctly signed token whose claims are not a JSON object, with one issuer or two', async () => {
    // With one issuer the claims are decoded after the signature check (as jwtVerify orders
    // them); with two, before it, to pick the issuer. Either way an invalid token, never a 500.
    const second = {
      issuer: 'https://other.test',
      audience: AUDIENCE,
      algorithms: ['ES256' as const],
    }
    const one = verifierWith()
    const two = createVerifier({
      issuers: [
        { ...issuerOptions, jwks: { keys: [key.jwk] } },
        { ...second, jwks: { keys: [key.jwk] } },
      ],
    })
    for (const payload of ['not json', '[1,2]', 'null', '"a string"', '{"sub":']) {
      const signed = await new CompactSign(new TextEncoder().encode(payload))
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .sign(key.privateKey)
      for (const verifier of [one, two]) {
        expect(await outcomeOf(() => verifier.verify(signed))).toBe('PCL_TOKEN_INVALID')
      }
    }
    // A genuine token of the second issuer is not one of the first's.
    const other = await signToken(key, buildPayload({ issuer: second.issuer, audience: AUDIENCE }))
    expect(await outcomeOf(() => one.verify(other))).toBe('PCL_TOKEN_INVALID')
    expect(await outcomeOf(() => two.verify(other))).toBe('accepted')
  })

  it('refuses an algorithm the issuer does not allow before asking its JWKS for a key', async () => {
    const server = createJwksServer({ keys: [key.jwk] })
    try {
      const verifier = createVerifier({
        issuers: [{ ...issuerOptions, jwksUri: await server.listen() }],
      })
      const es384 = await createTestKey({ alg: 'ES384' })
      const other = await signToken(es384, buildPayload({ issuer: ISSUER, audience: AUDIENCE }))
      expect(await outcomeOf(() => verifier.verify(other))).toBe('PCL_TOKEN_INVALID')
      expect(server.requests).toBe(0)
      expect(await outcomeOf(async () => verifier.verify(await token()))).toBe('accepted')
      expect(server.requests).toBe(1)
    } finally {
      await server.close()
    }
  })
})

describe('refusals', () => {
  it('say in their message (what the logs and audit events carry) why the token was refused', async () => {
    const verifier = createVerifier({
      issuers: [{ ...issuerOptions, jwks: { keys: [key.jwk] } }],
      maxTokenBytes: 1024,
    })
    const es384 = await createTestKey({ alg: 'ES384' })
    const cases: [string, string, RegExp][] = [
      ['empty', '', /^Token is empty$/],
      ['too long', 'a'.repeat(1025), /^Token longer than maxTokenBytes \(1024\)$/],
      ['not a token68', 'two words', /^Token is not a token68 \(RFC 6750 §2\.1\)$/],
      ['opaque, no introspection', 'opaque', /^Token is not a compact JWS \(three non-empty/],
      [
        'alg not allowed',
        await signToken(es384, buildPayload({ issuer: ISSUER, audience: AUDIENCE })),
        /^Token alg is not allowed for its issuer$/,
      ],
    ]
    for (const [name, token, message] of cases) {
      let thrown: unknown
      try {
        await verifier.verify(token)
      } catch (err) {
        thrown = err
      }
      expect(isPortcullisError(thrown), name).toBe(true)
      expect((thrown as Error).message, name).toMatch(message)
    }
    // With two issuers, the issuer is picked from the claims: an unknown one is named as such.
    const two = createVerifier({
      issuers: [
        { ...issuerOptions, jwks: { keys: [key.jwk] } },
        { ...issuerOptions, issuer: 'https://other.test', jwks: { keys: [key.jwk] } },
      ],
    })
    const stranger = await signToken(
      key,
      buildPayload({ issuer: 'https://x.test', audience: AUDIENCE }),
    )
    await expect(async () => two.verify(stranger)).rejects.toThrow(
      /^Token issuer \(iss\) is not configured$/,
    )
  })

  it('are built without a stack trace, and leave Error.stackTraceLimit as it was', async () => {
    const limit = Error.stackTraceLimit
    const verifier = verifierWith()
    const elsewhere = await signToken(key, buildPayload({ issuer: ISSUER, audience: 'other-api' }))
    expect(await outcomeOf(() => verifier.verify(elsewhere))).toBe('PCL_TOKEN_INVALID')
    expect(await outcomeOf(() => verifier.verify('a.b.c'))).toBe('PCL_TOKEN_INVALID')
    expect(Error.stackTraceLimit).toBe(limit)
    expect(new Error('after').stack).toContain('create-verifier.test')
  })
})

describe('what the cache keeps', () => {
  it('ends an entry at iat + maxTokenAge minus the clock tolerance', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const t = epochSeconds()
    const verifier = verifierWith({ clockTolerance: 5 }, 60)
    const jwt = await token({ iat: t, exp: t + 3600 })
    await verifier.verify(jwt)
    vi.setSystemTime((t + 55) * 1000 - 1)
    expect(await fromCache(() => verifier.verify(jwt))).toBe(true)
    // Still valid within the tolerance, but only a full verification may say so.
    vi.setSystemTime((t + 55) * 1000)
    expect(await fromCache(() => verifier.verify(jwt))).toBe(false)
    expect(await outcomeOf(() => verifier.verify(jwt))).toBe('accepted')
    vi.setSystemTime((t + 66) * 1000)
    expect(await outcomeOf(() => verifier.verify(jwt))).toBe('PCL_TOKEN_EXPIRED')
  })

  it('does not keep a token whose entry would end now, so it evicts nothing', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const t = epochSeconds()
    vi.setSystemTime(t * 1000)
    const verifier = verifierWith({ clockTolerance: 5, cache: { max: 1 } })
    const kept = await token({ sub: 'kept', iat: t, exp: t + 600 })
    await verifier.verify(kept)
    // exp minus the tolerance is now: valid, but an entry for it would already be over.
    const ending = await token({ sub: 'ending', iat: t, exp: t + 5 })
    expect(await outcomeOf(() => verifier.verify(ending))).toBe('accepted')
    expect(await fromCache(() => verifier.verify(kept))).toBe(true)
    expect(signatureChecks).toHaveBeenCalledTimes(2)
  })
})

describe('isRevoked', () => {
  it('refuses as unavailable when an async answer misses callbackTimeout', async () => {
    const verifier = verifierWith({
      callbackTimeout: 50,
      isRevoked: () => new Promise<boolean>(() => {}),
    })
    const started = Date.now()
    expect(await outcomeOf(async () => verifier.verify(await token()))).toBe(
      'PCL_REVOCATION_UNAVAILABLE',
    )
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('never passes on what an async isRevoked rejected with', async () => {
    const own = new Error('PCL_TOKEN_REVOKED from the store')
    const verifier = verifierWith({ isRevoked: () => Promise.reject(own) })
    const refusal = await Promise.resolve(verifier.verify(await token())).catch(
      (err: unknown) => err,
    )
    expect(isPortcullisError(refusal) && refusal.code).toBe('PCL_REVOCATION_UNAVAILABLE')
    expect(refusal).not.toBe(own)
  })
})

describe('telemetry', () => {
  interface Recorded {
    verifications: [string, string | undefined, unknown][]
    fetches: [string, string | null][]
  }
  function recording(metrics = true): Telemetry & Recorded {
    const verifications: Recorded['verifications'] = []
    const fetches: Recorded['fetches'] = []
    return {
      ...NO_TELEMETRY,
      metrics,
      verifications,
      fetches,
      verification: (result, issuer, error) => verifications.push([result, issuer, error]),
      jwksFetch: (issuer, failure) => fetches.push([issuer, failure]),
    }
  }
  const options = (): TokensOptions => ({
    issuers: [{ ...issuerOptions, jwks: { keys: [key.jwk] } }],
  })

  it('reports each verification: verified, cache_hit, refused, with the issuer when known', async () => {
    const telemetry = recording()
    const verifier = buildVerifier(options(), telemetry)
    const jwt = await token({ sub: 'first' })
    expect((await verifier.verify(jwt)).subject).toBe('first')
    expect((verifier.verify(jwt) as Principal).subject).toBe('first')
    expect((await verifier.verify(await token({ sub: 'second' }))).subject).toBe('second')
    expect(telemetry.verifications).toEqual([
      ['verified', ISSUER, null],
      ['cache_hit', ISSUER, null],
      ['verified', ISSUER, null],
    ])

    // Refused before an issuer is known (thrown at once), after (thrown by Node's check of a
    // known key), and by jose (rejected: the first token of a key).
    telemetry.verifications.length = 0
    const stranger = await signToken(
      await createTestKey({ kid: 'k1', alg: 'ES256' }),
      buildPayload({ issuer: ISSUER, audience: AUDIENCE }),
    )
    expect(await outcomeOf(() => verifier.verify('not-a-token'))).toBe('PCL_TOKEN_INVALID')
    expect(await outcomeOf(() => verifier.verify(stranger))).toBe('PCL_TOKEN_INVALID')
    const cold = buildVerifier(options(), telemetry).verify(stranger)
    expect(cold).toBeInstanceOf(Promise)
    expect(await outcomeOf(() => cold)).toBe('PCL_TOKEN_INVALID')
    expect(
      telemetry.verifications.map(([result, issuer, error]) => [
        result,
        issuer,
        isPortcullisError(error) && error.code,
      ]),
    ).toEqual([
      ['refused', undefined, 'PCL_TOKEN_INVALID'],
      ['refused', ISSUER, 'PCL_TOKEN_INVALID'],
      ['refused', ISSUER, 'PCL_TOKEN_INVALID'],
    ])
  })

  it('reports a revoked cache hit as refused', async () => {
    const telemetry = recording()
    const revoked = new Set<string>()
    const verifier = buildVerifier(
      { ...options(), isRevoked: (principal) => revoked.has(principal.subject ?? '') },
      telemetry,
    )
    const jwt = await token({ sub: 'gone' })
    await verifier.verify(jwt)
    revoked.add('gone')
    expect(await outcomeOf(() => verifier.verify(jwt))).toBe('PCL_TOKEN_REVOKED')
    expect(telemetry.verifications.map(([result]) => result)).toEqual(['verified', 'refused'])
  })

  it('reports nothing without a live meter', async () => {
    const telemetry = recording(false)
    const verifier = buildVerifier(options(), telemetry)
    await verifier.verify(await token())
    expect(telemetry.verifications).toEqual([])
  })

  it('reports each JWKS fetch of an issuer, and its failure', async () => {
    const server = createJwksServer({ keys: [key.jwk] })
    try {
      const telemetry = recording()
      const uri = await server.listen()
      const fresh = (): Verifier =>
        buildVerifier({ issuers: [{ ...issuerOptions, jwksUri: uri }] }, telemetry)
      server.setBehavior({ status: 500 })
      expect(await outcomeOf(async () => fresh().verify(await token()))).toBe(
        'PCL_KEYS_UNAVAILABLE',
      )
      server.setBehavior('ok')
      expect(await outcomeOf(async () => fresh().verify(await token()))).toBe('accepted')
      expect(telemetry.fetches).toEqual([
        [ISSUER, 'status'],
        [ISSUER, null],
      ])
    } finally {
      await server.close()
    }
  })
})
