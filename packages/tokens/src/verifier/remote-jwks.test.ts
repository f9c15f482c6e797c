import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import { isPortcullisError } from '@portcullis/core'
import {
  buildPayload,
  createJwksServer,
  createTestKey,
  signToken,
  type JwksBehavior,
  type JwksServer,
  type MintOptions,
  type TestKey,
} from '@portcullis/testing'
import { exportJWK, type JWK, type JWTPayload } from 'jose'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { TokensJwksOptions } from '../options/index.js'
import { createVerifier, type Verifier } from './create-verifier.js'

const ISSUER = 'https://auth.test'
const AUDIENCE = 'api'
const COOLDOWN = 1000
const MAX_AGE = 10_000
const STALE = 60_000

/** Claims of a valid token for `issuer` and `audience`: five minutes, `sub` user-1, a jti. */
const claimsFor = (issuer: string, audience: string, extra: MintOptions = {}): JWTPayload =>
  buildPayload({ issuer, audience }, extra)

let k1: TestKey
let k2: TestKey
let rogue: TestKey
let server: JwksServer
let uri: string

beforeAll(async () => {
  ;[k1, k2, rogue] = await Promise.all([
    createTestKey({ kid: 'k1' }),
    createTestKey({ kid: 'k2' }),
    createTestKey({ kid: 'k9' }),
  ])
  server = createJwksServer()
  uri = await server.listen()
})

afterAll(async () => {
  await server.close()
})

beforeEach(() => {
  server.setJwks({ keys: [k1.jwk] })
  server.setBehavior('ok')
  vi.useFakeTimers({ toFake: ['Date'] })
})

afterEach(() => {
  vi.useRealTimers()
})

function remoteVerifier(jwks: TokensJwksOptions = {}): Verifier {
  return createVerifier({
    issuers: [{ issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], jwksUri: uri }],
    // Tokens must outlive the clock jumps below.
    jwks: {
      cooldown: COOLDOWN,
      cacheMaxAge: MAX_AGE,
      timeout: 200,
      maxBytes: 4096,
      staleIfError: STALE,
      ...jwks,
    },
  })
}

const tokenBy = (key: TestKey, extra: Record<string, unknown> = {}): Promise<string> =>
  signToken(
    key,
    claimsFor(ISSUER, AUDIENCE, { exp: Math.floor(Date.now() / 1000) + 86_400, ...extra }),
  )

async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run()
  } catch (err) {
    return isPortcullisError(err) ? err.code : `not a PortcullisError: ${String(err)}`
  }
  return 'accepted'
}

const advance = (ms: number): void => {
  vi.setSystemTime(Date.now() + ms)
}

function requestsDuring(): () => number {
  const before = server.requests
  return () => server.requests - before
}

describe('remote JWKS', () => {
  it('fetches lazily once, then verifies new tokens from the cached key set', async () => {
    const requests = requestsDuring()
    const verifier = remoteVerifier()
    expect(requests()).toBe(0)
    for (let i = 0; i < 5; i++)
      expect(await codeOf(async () => verifier.verify(await tokenBy(k1, { i })))).toBe('accepted')
    expect(requests()).toBe(1)
  })

  it('refetches for an unknown kid at most once per cooldown', async () => {
    const verifier = remoteVerifier()
    await verifier.verify(await tokenBy(k1))
    const requests = requestsDuring()
    const unknown = await Promise.all(Array.from({ length: 10 }, (_, i) => tokenBy(rogue, { i })))
    for (const jwt of unknown)
      expect(await codeOf(() => verifier.verify(jwt))).toBe('PCL_TOKEN_INVALID')
    expect(requests()).toBe(0) // the first fetch just happened: still cooling down
    advance(COOLDOWN + 1)
    for (const jwt of unknown)
      expect(await codeOf(() => verifier.verify(jwt))).toBe('PCL_TOKEN_INVALID')
    expect(requests()).toBe(1)
    await Promise.all(unknown.map((jwt) => codeOf(() => verifier.verify(jwt))))
    expect(requests()).toBe(1)
  })

  it('picks up a key published later without a restart', async () => {
    const verifier = remoteVerifier()
    await verifier.verify(await tokenBy(k1))
    server.setJwks({ keys: [k1.jwk, k2.jwk] })
    advance(COOLDOWN + 1)
    expect(await codeOf(async () => verifier.verify(await tokenBy(k2)))).toBe('accepted')
  })

  it('stops verifying a removed key, cached tokens included, once a refresh drops it', async () => {
    const verifier = remoteVerifier()
    const old = await tokenBy(k1)
    await verifier.verify(old)
    expect(verifier.verify(old)).not.toBeInstanceOf(Promise)

    // Rotation: k1 removed. A token with the new kid makes the verifier refetch (cooldown over).
    server.setJwks({ keys: [k2.jwk] })
    advance(COOLDOWN + 1)
    expect(verifier.verify(old)).not.toBeInstanceOf(Promise) // nothing refreshed yet
    expect(await codeOf(async () => verifier.verify(await tokenBy(k2)))).toBe('accepted')
    expect(await codeOf(() => verifier.verify(old))).toBe('PCL_TOKEN_INVALID')
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1)))).toBe('PCL_TOKEN_INVALID')
  })

  it('bounds a cached token by cacheMaxAge when only cached tokens arrive', async () => {
    const verifier = remoteVerifier()
    const old = await tokenBy(k1)
    await verifier.verify(old)
    server.setJwks({ keys: [k2.jwk] })
    advance(MAX_AGE - 1)
    expect(verifier.verify(old)).not.toBeInstanceOf(Promise)
    const requests = requestsDuring()
    advance(2)
    expect(await codeOf(() => verifier.verify(old))).toBe('PCL_TOKEN_INVALID')
    expect(requests()).toBe(1)
  })

  it('keeps serving cached tokens whose key survived a refresh', async () => {
    const verifier = remoteVerifier()
    const jwt = await tokenBy(k1)
    await verifier.verify(jwt)
    server.setJwks({ keys: [k1.jwk, k2.jwk] })
    advance(MAX_AGE + 1)
    await verifier.verify(jwt) // past cacheMaxAge: goes through jose, which refreshes
    expect(verifier.verify(jwt)).not.toBeInstanceOf(Promise)
  })

  it('tries each matching key for a token without kid (jose JWKSMultipleMatchingKeys)', async () => {
    server.setJwks({ keys: [k1.jwk, k2.jwk] })
    const verifier = remoteVerifier()
    const noKid = await signToken(
      { alg: 'ES256', privateKey: k2.privateKey },
      claimsFor(ISSUER, AUDIENCE, { exp: Math.floor(Date.now() / 1000) + 600 }),
    )
    expect(await codeOf(() => verifier.verify(noKid))).toBe('accepted')
    const rogueNoKid = await signToken(
      { alg: 'ES256', privateKey: rogue.privateKey },
      claimsFor(ISSUER, AUDIENCE),
    )
    expect(await codeOf(() => verifier.verify(rogueNoKid))).toBe('PCL_TOKEN_INVALID')
  })

  it('refuses a JWKS that publishes private keys as unavailable keys', async () => {
    server.setJwks({ keys: [{ ...(await exportJWK(k1.privateKey)), kid: 'k1' }] })
    const verifier = remoteVerifier()
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1)))).toBe(
      'PCL_KEYS_UNAVAILABLE',
    )
  })
})

// A set that holds one member no issuer publishes comes from a misconfigured or compromised
// endpoint: none of its keys is used, the good ones beside it included.
describe('keys picked from the fetched set', () => {
  const signedBy = (key: TestKey, header: Record<string, unknown>, extra = {}): Promise<string> =>
    signToken(
      key,
      claimsFor(ISSUER, AUDIENCE, { exp: Math.floor(Date.now() / 1000) + 86_400, ...extra }),
      header,
    )

  it('verifies a new token of a key already used without a fetch', async () => {
    const verifier = remoteVerifier()
    // The first token fetches the set; the key jose picks from a set it already held is kept.
    await verifier.verify(await tokenBy(k1))
    await verifier.verify(await tokenBy(k1, { sub: 'user-0' }))
    const requests = requestsDuring()
    for (let i = 0; i < 5; i++) {
      const answer = await verifier.verify(await tokenBy(k1, { sub: `user-${i}` }))
      expect(answer).toMatchObject({ subject: `user-${i}` })
    }
    // A forged signature under the same key is refused, without a fetch either.
    const forged = (await tokenBy(k1)).replace(/\.[^.]+$/, `.${'A'.repeat(86)}`)
    expect(await codeOf(() => verifier.verify(forged))).toBe('PCL_TOKEN_INVALID')
    expect(requests()).toBe(0)
  })

  it('forgets the picks when the set is past cacheMaxAge: a key removed meanwhile is refused', async () => {
    const verifier = remoteVerifier()
    await verifier.verify(await tokenBy(k1))
    server.setJwks({ keys: [k2.jwk] })
    advance(MAX_AGE - 1)
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1, { n: 1 })))).toBe('accepted')
    advance(2)
    const requests = requestsDuring()
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1, { n: 2 })))).toBe(
      'PCL_TOKEN_INVALID',
    )
    expect(requests()).toBe(1)
    expect(await codeOf(async () => verifier.verify(await tokenBy(k2)))).toBe('accepted')
  })

  it('keeps a token without kid, one with an empty kid and one with another kid apart', async () => {
    const verifier = remoteVerifier()
    // No kid: jose picks the only ES256 key.
    expect(await codeOf(async () => verifier.verify(await signedBy(k1, { kid: undefined })))).toBe(
      'accepted',
    )
    // An empty kid names no key of the set, though the pick without kid is remembered.
    expect(await codeOf(async () => verifier.verify(await signedBy(k1, { kid: '' })))).toBe(
      'PCL_TOKEN_INVALID',
    )
    expect(await codeOf(async () => verifier.verify(await signedBy(k1, { kid: 'k2' })))).toBe(
      'PCL_TOKEN_INVALID',
    )
    // A kid that is not a string is left to jose, which finds no key for it.
    expect(await codeOf(async () => verifier.verify(await signedBy(k1, { kid: 1 })))).toBe(
      'PCL_TOKEN_INVALID',
    )
    // The picks still serve their own headers: no kid, then the exact kid.
    expect(
      await codeOf(async () => verifier.verify(await signedBy(k1, { kid: undefined }, { n: 2 }))),
    ).toBe('accepted')
    expect(await codeOf(async () => verifier.verify(await signedBy(k1, { kid: 'k1' })))).toBe(
      'accepted',
    )
  })

  it('never serves a key picked for one alg to a token of another', async () => {
    const rsa = await createTestKey({ kid: 'r1', alg: 'RS256' })
    server.setJwks({ keys: [k1.jwk, rsa.jwk] })
    const verifier = createVerifier({
      issuers: [
        { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256', 'RS256'], jwksUri: uri },
      ],
    })
    expect(await codeOf(async () => verifier.verify(await signedBy(rsa, {})))).toBe('accepted')
    expect(await codeOf(async () => verifier.verify(await signedBy(k1, {})))).toBe('accepted')
    // The RSA key's kid under ES256: jose finds no ES256 key with that kid.
    expect(await codeOf(async () => verifier.verify(await signedBy(k1, { kid: 'r1' })))).toBe(
      'PCL_TOKEN_INVALID',
    )
  })
})

describe('a JWKS refused as a whole', () => {
  let rsa: JWK
  let forged: string

  beforeAll(async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    rsa = { ...publicKey.export({ format: 'jwk' }), kid: 'r1', alg: 'RS256', use: 'sig' }
    // With e = 1, s^e mod n = s: the "signature" is the EMSA-PKCS1-v1_5 encoding of the digest,
    // which anyone computes without a private key (RFC 8017 §9.2).
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'r1' })).toString('base64url')
    const claims = claimsFor(ISSUER, AUDIENCE, { sub: 'attacker', exp: 9_999_999_999 })
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url')
    const digest = createHash('sha256').update(`${header}.${payload}`).digest()
    const t = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), digest])
    const size = Buffer.from(rsa.n!, 'base64url').length
    const padding = Buffer.alloc(size - t.length - 3, 0xff)
    const encoded = Buffer.concat([Buffer.from([0, 1]), padding, Buffer.from([0]), t])
    forged = `${header}.${payload}.${encoded.toString('base64url')}`
  })

  function rsaVerifier(): Verifier {
    return createVerifier({
      issuers: [
        { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256', 'RS256'], jwksUri: uri },
      ],
      jwks: { cooldown: COOLDOWN, cacheMaxAge: MAX_AGE, timeout: 200, staleIfError: STALE },
    })
  }

  it('never accepts a signature forged for an RSA key with e = 1', async () => {
    server.setJwks({ keys: [{ ...rsa, e: 'AQ' }] })
    const verifier = rsaVerifier()
    expect(await codeOf(() => verifier.verify(forged))).toBe('PCL_KEYS_UNAVAILABLE')
  })

  const hugeModulus = (): string => {
    const n = randomBytes(1026)
    n[0]! |= 0x80
    n[1025]! |= 1
    return n.toString('base64url')
  }
  const unsafe: [string, () => JWK][] = [
    ['an RSA key with e = 1', () => ({ ...rsa, e: 'AQ' })],
    ['an RSA key with e = 3', () => ({ ...rsa, e: 'Aw' })],
    ['an RSA key of 8208 bits', () => ({ ...rsa, n: hugeModulus() })],
    [
      'an RSA key without e',
      () => {
        const copy = { ...rsa }
        delete copy.e
        return copy
      },
    ],
    ['a private EC key (d)', () => ({ ...k2.jwk, d: 'AAAA' })],
    ...['p', 'q', 'dp', 'dq', 'qi', 'oth'].map((member): [string, () => JWK] => [
      `a private RSA member (${member})`,
      () => ({ ...rsa, [member]: 'AAAA' }),
    ]),
    [
      'a symmetric key (kty oct)',
      () => ({ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', kid: 'h' }),
    ],
    ['a k member on another kty', () => ({ ...k2.jwk, k: 'AAAA' })],
  ]

  it.each(unsafe)(
    '%s beside a good key: the good key’s tokens are refused too (503), once per cooldown',
    async (_, member) => {
      server.setJwks({ keys: [k1.jwk, member()] })
      const verifier = rsaVerifier()
      const requests = requestsDuring()
      const jwt = await tokenBy(k1)
      for (let i = 0; i < 3; i++)
        expect(await codeOf(() => verifier.verify(jwt))).toBe('PCL_KEYS_UNAVAILABLE')
      expect(requests()).toBe(1)
    },
  )

  it('keeps the keys fetched before within staleIfError, like any unusable answer', async () => {
    server.setJwks({ keys: [k1.jwk, rsa] })
    const verifier = rsaVerifier()
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1, { n: 1 })))).toBe('accepted')
    server.setJwks({ keys: [k1.jwk, { ...rsa, e: 'AQ' }] })
    advance(MAX_AGE + 1)
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1, { n: 2 })))).toBe('accepted')
    // The refused set never replaced the good one: the forgery finds the genuine e.
    expect(await codeOf(() => verifier.verify(forged))).toBe('PCL_TOKEN_INVALID')
    vi.setSystemTime(Date.now() + STALE)
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1, { n: 3 })))).toBe(
      'PCL_KEYS_UNAVAILABLE',
    )
  })

  it('accepts RSA keys with e = 65537 from 2048 to 8192 bits beside other keys', async () => {
    server.setJwks({ keys: [k1.jwk, rsa] })
    const verifier = rsaVerifier()
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1)))).toBe('accepted')
  })
})

describe('JWKS outages', () => {
  const outages: [string, JwksBehavior][] = [
    ['connection reset', 'down'],
    ['slower than the timeout', 'slow'],
    ['HTTP 500', { status: 500 }],
    ['HTTP 404', { status: 404 }],
    ['a redirect', { status: 302 }],
    ['garbage JSON', 'garbage'],
    ['JSON that is not a JWKS', { body: '{"keys": "nope"}' }],
    ['a body over maxBytes (streamed)', { hugeBytes: 64 * 1024 }],
    ['a body over maxBytes (declared)', { hugeBytes: 64 * 1024, contentLength: true }],
  ]

  it.each(outages)(
    '%s with no cached key: PCL_KEYS_UNAVAILABLE, one request per cooldown',
    async (_, behavior) => {
      server.setBehavior(behavior)
      const verifier = remoteVerifier()
      const requests = requestsDuring()
      const jwt = await tokenBy(k1)
      for (let i = 0; i < 5; i++)
        expect(await codeOf(() => verifier.verify(jwt))).toBe('PCL_KEYS_UNAVAILABLE')
      expect(requests()).toBe(1)
    },
  )

  it('is not hammered by many requests while down, sequential or concurrent', async () => {
    server.setBehavior({ status: 503 })
    const verifier = remoteVerifier()
    const requests = requestsDuring()
    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => tokenBy(k1, { i })))
    const codes = await Promise.all(tokens.map((jwt) => codeOf(() => verifier.verify(jwt))))
    expect(new Set(codes)).toEqual(new Set(['PCL_KEYS_UNAVAILABLE']))
    for (const jwt of tokens) await codeOf(() => verifier.verify(jwt))
    expect(requests()).toBe(1)
    advance(COOLDOWN + 1)
    for (const jwt of tokens) await codeOf(() => verifier.verify(jwt))
    expect(requests()).toBe(2)
  })

  it('recovers once the endpoint is back and the cooldown is over', async () => {
    server.setBehavior('down')
    const verifier = remoteVerifier()
    const jwt = await tokenBy(k1)
    expect(await codeOf(() => verifier.verify(jwt))).toBe('PCL_KEYS_UNAVAILABLE')
    server.setBehavior('ok')
    expect(await codeOf(() => verifier.verify(jwt))).toBe('PCL_KEYS_UNAVAILABLE')
    advance(COOLDOWN + 1)
    expect(await codeOf(() => verifier.verify(jwt))).toBe('accepted')
  })

  it('keeps verifying with cached keys past cacheMaxAge, within staleIfError', async () => {
    const verifier = remoteVerifier()
    const cachedToken = await tokenBy(k1, { n: 1 })
    await verifier.verify(cachedToken)
    const requests = requestsDuring()
    server.setBehavior({ status: 500 })

    advance(MAX_AGE + 1)
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1, { n: 2 })))).toBe('accepted')
    expect(await codeOf(() => verifier.verify(cachedToken))).toBe('accepted')
    expect(requests()).toBe(1)
    // While the failed refresh cools down, cached tokens are hits again.
    expect(verifier.verify(cachedToken)).not.toBeInstanceOf(Promise)

    for (let i = 0; i < 10; i++) {
      advance(COOLDOWN + 1)
      expect(await codeOf(async () => verifier.verify(await tokenBy(k1, { i })))).toBe('accepted')
    }
    expect(requests()).toBe(11)

    vi.setSystemTime(Date.now() + STALE)
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1, { n: 3 })))).toBe(
      'PCL_KEYS_UNAVAILABLE',
    )
    expect(await codeOf(() => verifier.verify(cachedToken))).toBe('PCL_KEYS_UNAVAILABLE')
  })

  it('refuses stale keys past cacheMaxAge when staleIfError is 0', async () => {
    const verifier = remoteVerifier({ staleIfError: 0 })
    await verifier.verify(await tokenBy(k1))
    server.setBehavior('down')
    advance(MAX_AGE + 1)
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1)))).toBe(
      'PCL_KEYS_UNAVAILABLE',
    )
  })

  it('answers an unknown kid while the endpoint is down as unavailable keys, not a bad token', async () => {
    const verifier = remoteVerifier()
    await verifier.verify(await tokenBy(k1))
    server.setBehavior('down')
    advance(COOLDOWN + 1)
    expect(await codeOf(async () => verifier.verify(await tokenBy(k2)))).toBe(
      'PCL_KEYS_UNAVAILABLE',
    )
    // Tokens of the keys it holds keep verifying meanwhile.
    expect(await codeOf(async () => verifier.verify(await tokenBy(k1)))).toBe('accepted')
  })
})
