import { isPortcullisError, type Principal } from '@portcullis/core'
import {
  buildPayload,
  createTestKey,
  epochSeconds,
  signToken,
  type MintOptions,
  type TestKey,
} from '@portcullis/testing'
import * as jose from 'jose'
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
import { createVerifier, type Verifier } from './create-verifier.js'
import { SignatureChecks } from './jws.js'

const ISSUER = 'https://auth.test'
const AUDIENCE = 'api'
// The signature checks the verifier makes (jose's the first time for a key, Node's after).
let signatureChecks: MockInstance<SignatureChecks['verify']>

/** Claims of a valid token for `issuer` and `audience`: five minutes, `sub` user-1, a jti. */
const claimsFor = (issuer: string, audience: string, extra: MintOptions = {}): jose.JWTPayload =>
  buildPayload({ issuer, audience }, extra)

let key: TestKey

beforeAll(async () => {
  key = await createTestKey({ kid: 'k1', alg: 'ES256' })
})

beforeEach(() => {
  signatureChecks = vi.spyOn(SignatureChecks.prototype, 'verify')
})

afterEach(() => {
  vi.useRealTimers()
})

function verifierWith(options: Omit<TokensOptions, 'issuers'> = {}): Verifier {
  return createVerifier({
    issuers: [
      { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], jwks: { keys: [key.jwk] } },
    ],
    ...options,
  })
}

const token = (extra: jose.JWTPayload = {}): Promise<string> =>
  signToken(key, claimsFor(ISSUER, AUDIENCE, extra))

function codeOfSync(run: () => unknown): string {
  try {
    run()
  } catch (err) {
    return isPortcullisError(err) ? err.code : String(err)
  }
  return 'accepted'
}

/**
 * Whether `run` was answered from the cache: no signature checked. (A signature is checked in a
 * batch after the caller's callback, and a refusal may be thrown or rejected, so a promise tells
 * nothing.)
 */
function fromCache(run: () => unknown): boolean {
  const before = signatureChecks.mock.calls.length
  try {
    const answer = run()
    if (answer instanceof Promise) answer.catch(() => undefined)
  } catch {
    // A refusal: whether it came from the cache is what the count says.
  }
  return signatureChecks.mock.calls.length === before
}

async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run()
  } catch (err) {
    return isPortcullisError(err) ? err.code : String(err)
  }
  return 'accepted'
}

describe('verified-token cache', () => {
  it('answers a token seen before synchronously, without jose', async () => {
    const verifier = verifierWith()
    const jwt = await token()
    const first = verifier.verify(jwt)
    expect(first).toBeInstanceOf(Promise)
    const principal = await first
    expect(signatureChecks).toHaveBeenCalledTimes(1)

    const second = verifier.verify(jwt)
    expect(second).not.toBeInstanceOf(Promise)
    expect(second).toBe(principal)
    for (let i = 0; i < 100; i++) expect(verifier.verify(jwt)).toBe(principal)
    expect(signatureChecks).toHaveBeenCalledTimes(1)
  })

  it('serves an entry only to its own token: a payload swapped under a cached signature fails', async () => {
    const verifier = verifierWith()
    const jwt = await token({ sub: 'user-1' })
    await verifier.verify(jwt)
    const [header, , signature] = jwt.split('.')
    const forged = jose.base64url.encode(
      JSON.stringify(claimsFor(ISSUER, AUDIENCE, { sub: 'admin' })),
    )
    const swapped = `${header}.${forged}.${signature}`
    // Not a cache hit: the signature is checked again, and refused.
    expect(await codeOf(() => verifier.verify(swapped))).toBe('PCL_TOKEN_INVALID')
    expect(signatureChecks).toHaveBeenCalledTimes(2)
    // The real token's entry is untouched.
    expect((verifier.verify(jwt) as Principal).subject).toBe('user-1')
  })

  it('shares one jose verification between concurrent calls for a new token', async () => {
    const verifier = verifierWith()
    const jwt = await token()
    const results = await Promise.all([
      verifier.verify(jwt),
      verifier.verify(jwt),
      verifier.verify(jwt),
    ])
    expect(new Set(results).size).toBe(1)
    expect(signatureChecks).toHaveBeenCalledTimes(1)
  })

  it('never joins a payload swapped under the signature of a token in flight', async () => {
    const verifier = verifierWith()
    const jwt = await token({ sub: 'user-1' })
    const [header, , signature] = jwt.split('.')
    const forged = jose.base64url.encode(
      JSON.stringify(claimsFor(ISSUER, AUDIENCE, { sub: 'admin' })),
    )
    const swapped = `${header}.${forged}.${signature}`
    // The genuine token is in flight when the swapped one and the genuine one arrive again.
    const [first, attack, again] = await Promise.allSettled([
      verifier.verify(jwt),
      verifier.verify(swapped),
      verifier.verify(jwt),
    ])
    expect(first).toMatchObject({ status: 'fulfilled', value: { subject: 'user-1' } })
    expect(attack).toMatchObject({ status: 'rejected', reason: { code: 'PCL_TOKEN_INVALID' } })
    expect(again).toMatchObject({ status: 'fulfilled', value: { subject: 'user-1' } })
    // The genuine token once (the third call joined it), the swapped one on its own.
    expect(signatureChecks).toHaveBeenCalledTimes(2)
    // And the other way round: the swapped token in flight first is joined by no genuine one.
    const fresh = await token({ sub: 'user-2' })
    const [h2, , s2] = fresh.split('.')
    const swappedFirst = `${h2}.${forged}.${s2}`
    const [bad, good] = await Promise.allSettled([
      verifier.verify(swappedFirst),
      verifier.verify(fresh),
    ])
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'PCL_TOKEN_INVALID' } })
    expect(good).toMatchObject({ status: 'fulfilled', value: { subject: 'user-2' } })
  })

  it('ends an entry at exp minus the clock tolerance', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const t = epochSeconds()
    const verifier = verifierWith({ clockTolerance: 5 })
    const jwt = await token({ iat: t, exp: t + 60 })
    await verifier.verify(jwt)

    vi.setSystemTime((t + 55) * 1000 - 1)
    expect(fromCache(() => verifier.verify(jwt))).toBe(true)
    expect(signatureChecks).toHaveBeenCalledTimes(1)

    // Inside the tolerance window the token is still valid, but only a full check may say so.
    vi.setSystemTime((t + 55) * 1000)
    expect(fromCache(() => verifier.verify(jwt))).toBe(false)
    // The same token again while that check is in flight waits for it: one check for both.
    expect(await codeOf(() => verifier.verify(jwt))).toBe('accepted')
    expect(signatureChecks).toHaveBeenCalledTimes(2)

    vi.setSystemTime((t + 65) * 1000)
    expect(await codeOf(() => verifier.verify(jwt))).toBe('PCL_TOKEN_EXPIRED')
  })

  it('ends an entry when maxTokenAge runs out before exp', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const t = epochSeconds()
    const verifier = createVerifier({
      issuers: [
        {
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ['ES256'],
          jwks: { keys: [key.jwk] },
          maxTokenAge: 60,
        },
      ],
      clockTolerance: 0,
    })
    const jwt = await token({ iat: t, exp: t + 3600 })
    await verifier.verify(jwt)
    vi.setSystemTime((t + 59) * 1000)
    expect(fromCache(() => verifier.verify(jwt))).toBe(true)
    vi.setSystemTime((t + 61) * 1000)
    expect(await codeOf(() => verifier.verify(jwt))).toBe('PCL_TOKEN_EXPIRED')
  })

  it('is bounded by max (least recently used out)', async () => {
    const verifier = verifierWith({ cache: { max: 2 } })
    const [a, b, c] = await Promise.all([token({ n: 1 }), token({ n: 2 }), token({ n: 3 })])
    await verifier.verify(a)
    await verifier.verify(b)
    await verifier.verify(c)
    expect(fromCache(() => verifier.verify(c))).toBe(true)
    expect(fromCache(() => verifier.verify(b))).toBe(true)
    expect(fromCache(() => verifier.verify(a))).toBe(false)
  })

  it('never caches a failure, and failures cannot evict good entries', async () => {
    const verifier = verifierWith({ cache: { max: 2 } })
    const good = await token()
    await verifier.verify(good)
    const bad = await signToken(key, claimsFor(ISSUER, 'other-audience'))
    for (let i = 0; i < 3; i++)
      expect(await codeOf(() => verifier.verify(bad))).toBe('PCL_TOKEN_INVALID')
    expect(signatureChecks).toHaveBeenCalledTimes(4)
    const forged = await Promise.all(
      Array.from({ length: 20 }, async (_, i) =>
        signToken(await createTestKey({ kid: 'k1' }), claimsFor(ISSUER, AUDIENCE, { i })),
      ),
    )
    for (const jwt of forged)
      expect(await codeOf(() => verifier.verify(jwt))).toBe('PCL_TOKEN_INVALID')
    expect(fromCache(() => verifier.verify(good))).toBe(true)
  })

  it('can be turned off', async () => {
    const verifier = verifierWith({ cache: false })
    const jwt = await token()
    await verifier.verify(jwt)
    expect(fromCache(() => verifier.verify(jwt))).toBe(false)
    expect(signatureChecks).toHaveBeenCalledTimes(2)
  })
})

describe('isRevoked', () => {
  it('is consulted on every call, cache hits included', async () => {
    const revoked = new Set<string>()
    const isRevoked = vi.fn((principal: Principal) => revoked.has(String(principal.claims.jti)))
    const verifier = verifierWith({ isRevoked })
    const jwt = await token({ jti: 'j1' })
    await verifier.verify(jwt)
    expect(verifier.verify(jwt)).not.toBeInstanceOf(Promise)
    expect(isRevoked).toHaveBeenCalledTimes(2)

    revoked.add('j1')
    expect(codeOfSync(() => verifier.verify(jwt))).toBe('PCL_TOKEN_REVOKED')
    expect(isRevoked).toHaveBeenCalledTimes(3)
    expect(signatureChecks).toHaveBeenCalledTimes(1)

    revoked.clear()
    expect(codeOfSync(() => verifier.verify(jwt))).toBe('accepted')
  })

  it('refuses a revoked token on first sight, and supports async answers', async () => {
    const verifier = verifierWith({
      isRevoked: async (principal) => Promise.resolve(principal.subject === 'bad'),
    })
    expect(await codeOf(async () => verifier.verify(await token({ sub: 'bad' })))).toBe(
      'PCL_TOKEN_REVOKED',
    )
    const jwt = await token()
    await verifier.verify(jwt)
    const hit = verifier.verify(jwt)
    expect(hit).toBeInstanceOf(Promise)
    expect((await hit).subject).toBe('user-1')
  })

  it('fails closed when it throws, rejects or answers something other than false', async () => {
    const jwt = await token()
    const throwing = verifierWith({
      isRevoked: () => {
        throw new Error('revocation store down')
      },
    })
    expect(await codeOf(() => throwing.verify(jwt))).toBe('PCL_REVOCATION_UNAVAILABLE')
    const rejecting = verifierWith({ isRevoked: () => Promise.reject(new Error('timeout')) })
    expect(await codeOf(() => rejecting.verify(jwt))).toBe('PCL_REVOCATION_UNAVAILABLE')
    const sloppy = verifierWith({ isRevoked: (() => undefined) as unknown as () => boolean })
    expect(await codeOf(() => sloppy.verify(jwt))).toBe('PCL_TOKEN_REVOKED')
  })
})
