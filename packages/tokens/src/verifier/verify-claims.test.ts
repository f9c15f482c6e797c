import { createHmac } from 'node:crypto'
import { isPortcullisError, type Principal } from '@portcullis/core'
import {
  buildPayload,
  createTestKey,
  epochSeconds,
  signToken,
  type MintOptions,
  type TestKey,
} from '@portcullis/testing'
import type { JWTPayload } from 'jose'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { TokensIssuerOptions, TokensOptions } from '../options/index.js'
import { createVerifier } from './create-verifier.js'

const ISSUER = 'https://auth.test'
const AUDIENCE = 'videos-api'

/** Claims of a valid token for `issuer` and `audience`: five minutes, `sub` user-1, a jti. */
const claimsFor = (issuer: string, audience: string, extra: MintOptions = {}): JWTPayload =>
  buildPayload({ issuer, audience }, extra)

let key: TestKey
let other: TestKey

beforeAll(async () => {
  key = await createTestKey({ kid: 'k1', alg: 'ES256' })
  other = await createTestKey({ kid: 'o1', alg: 'EdDSA' })
})

afterEach(() => {
  vi.useRealTimers()
})

function issuerWith(overrides: Partial<TokensIssuerOptions> = {}): TokensIssuerOptions {
  return {
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['ES256'],
    jwks: { keys: [key.jwk] },
    ...overrides,
  }
}

function verifierWith(
  overrides: Partial<TokensIssuerOptions> = {},
  options: Omit<TokensOptions, 'issuers'> = {},
): ReturnType<typeof createVerifier> {
  return createVerifier({ issuers: [issuerWith(overrides)], cache: false, ...options })
}

async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run()
  } catch (err) {
    return isPortcullisError(err) ? err.code : `not a PortcullisError: ${String(err)}`
  }
  return 'accepted'
}

describe('a valid token', () => {
  it('yields a frozen principal', async () => {
    const verifier = verifierWith()
    const token = await signToken(
      key,
      claimsFor(ISSUER, AUDIENCE, {
        scope: 'videos:read  videos:write',
        scp: ['videos:read', 'admin'],
        client_id: 'search-svc',
        azp: 'ignored',
        nested: { list: [1, { deep: true }] },
      }),
    )
    const principal: Principal = await verifier.verify(token)
    expect(principal.subject).toBe('user-1')
    expect(principal.issuer).toBe(ISSUER)
    expect(principal.clientId).toBe('search-svc')
    // Scopes from `scope` only: the `scp` beside it grants nothing (scopeClaim defaults to scope).
    expect([...principal.scopes].sort()).toEqual(['videos:read', 'videos:write'])
    expect(principal.claims.sub).toBe('user-1')

    expect(Object.isFrozen(principal)).toBe(true)
    expect(Object.isFrozen(principal.claims)).toBe(true)
    const nested = principal.claims.nested as { list: [number, { deep: boolean }] }
    expect(Object.isFrozen(nested)).toBe(true)
    expect(Object.isFrozen(nested.list)).toBe(true)
    expect(Object.isFrozen(nested.list[1])).toBe(true)
    expect(() => {
      ;(principal as { subject: string }).subject = 'admin'
    }).toThrow(TypeError)
    const scopes = principal.scopes as Set<string>
    expect(() => scopes.add('admin:all')).toThrow(TypeError)
    expect(() => scopes.delete('videos:read')).toThrow(TypeError)
    expect(() => scopes.clear()).toThrow(TypeError)
    expect(principal.scopes.has('videos:read')).toBe(true)
  })

  it('takes clientId from azp when client_id is absent, else null', async () => {
    const verifier = verifierWith()
    const azp = await verifier.verify(
      await signToken(key, claimsFor(ISSUER, AUDIENCE, { azp: 'player' })),
    )
    expect(azp.clientId).toBe('player')
    const none = await verifier.verify(await signToken(key, claimsFor(ISSUER, AUDIENCE)))
    expect(none.clientId).toBeNull()
    expect(none.scopes.size).toBe(0)
  })

  it('accepts an audience list', async () => {
    const verifier = verifierWith({ audience: ['other', AUDIENCE] })
    const principal = await verifier.verify(
      await signToken(key, claimsFor(ISSUER, AUDIENCE, { aud: ['x', AUDIENCE], scope: 'a b' })),
    )
    expect([...principal.scopes]).toEqual(['a', 'b'])
  })

  it('refuses scope, client_id and sub of the wrong type', async () => {
    const verifier = verifierWith()
    for (const extra of [
      { scope: ['ok', 1] },
      { scope: 42 },
      { client_id: 7 },
      { sub: 12 },
      { sub: '' },
    ] as Record<string, unknown>[]) {
      // Spread over the built claims, so that the wrong types are signed as they are.
      const token = await signToken(key, { ...claimsFor(ISSUER, AUDIENCE), ...extra })
      expect(await codeOf(() => verifier.verify(token))).toBe('PCL_TOKEN_INVALID')
    }
  })
})

describe('scopes (RFC 9068 §2.2.3, scopeClaim)', () => {
  const scopesOf = async (
    claims: Record<string, unknown>,
    overrides: Partial<TokensIssuerOptions> = {},
  ): Promise<string[] | string> => {
    const token = await signToken(key, { ...claimsFor(ISSUER, AUDIENCE), ...claims })
    try {
      return [...(await verifierWith(overrides).verify(token)).scopes].sort()
    } catch (err) {
      return isPortcullisError(err) ? err.code : String(err)
    }
  }

  it('never reads a scope array as a grant: scope must be a space-delimited string', async () => {
    expect(await scopesOf({ scope: ['admin'] })).toBe('PCL_TOKEN_INVALID')
    expect(await scopesOf({ scope: ['admin', 'videos:read'] })).toBe('PCL_TOKEN_INVALID')
    expect(await scopesOf({ scope: { admin: true } })).toBe('PCL_TOKEN_INVALID')
    expect(await scopesOf({ scope: 'admin  videos:read ' })).toEqual(['admin', 'videos:read'])
    // Under scopeClaim: 'scp', `scope` is a claim like any other: never a grant, whatever its type.
    expect(await scopesOf({ scope: ['admin'] }, { scopeClaim: 'scp' })).toEqual([])
    expect(await scopesOf({ scope: 'admin' }, { scopeClaim: 'scp' })).toEqual([])
  })

  it('ignores scp unless the issuer sets scopeClaim: scp', async () => {
    expect(await scopesOf({ scp: ['admin'] })).toEqual([])
    expect(await scopesOf({ scp: 'admin' })).toEqual([])
    expect(await scopesOf({ scp: { a: 1 } })).toEqual([])
  })

  it('reads scp as an array (Okta, Ory) or a space-delimited string (Entra) with scopeClaim: scp', async () => {
    const scp = { scopeClaim: 'scp' } as const
    expect(await scopesOf({ scp: ['videos:read', 'admin'] }, scp)).toEqual(['admin', 'videos:read'])
    expect(await scopesOf({ scp: 'videos:read admin' }, scp)).toEqual(['admin', 'videos:read'])
    expect(await scopesOf({}, scp)).toEqual([])
    for (const bad of [{ a: 1 }, ['ok', 1], 42]) {
      expect(await scopesOf({ scp: bad }, scp)).toBe('PCL_TOKEN_INVALID')
    }
  })
})

describe('claims (RFC 7519 §4.1, RFC 9068)', () => {
  it('refuses an expired token, within clock tolerance only', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const verifier = verifierWith({}, { clockTolerance: 5 })
    const t = epochSeconds()
    const token = await signToken(key, claimsFor(ISSUER, AUDIENCE, { iat: t - 100, exp: t }))
    expect(await codeOf(() => verifier.verify(token))).toBe('accepted')
    vi.setSystemTime((t + 4) * 1000)
    expect(await codeOf(() => verifier.verify(token))).toBe('accepted')
    vi.setSystemTime((t + 5) * 1000)
    expect(await codeOf(() => verifier.verify(token))).toBe('PCL_TOKEN_EXPIRED')
  })

  it('refuses a token not yet valid (nbf) and one issued in the future beyond tolerance', async () => {
    const verifier = verifierWith({ maxTokenAge: '1h' })
    const t = epochSeconds()
    const nbf = await signToken(key, claimsFor(ISSUER, AUDIENCE, { nbf: t + 60 }))
    expect(await codeOf(() => verifier.verify(nbf))).toBe('PCL_TOKEN_INVALID')
    const iat = await signToken(key, claimsFor(ISSUER, AUDIENCE, { iat: t + 60 }))
    expect(await codeOf(() => verifier.verify(iat))).toBe('PCL_TOKEN_INVALID')
  })

  it('refuses a token issued in the future beyond clockTolerance, without maxTokenAge too', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const verifier = verifierWith({}, { clockTolerance: 5 })
    const t = epochSeconds()
    const at = (iat: number) => signToken(key, claimsFor(ISSUER, AUDIENCE, { iat, exp: t + 600 }))
    expect(await codeOf(async () => verifier.verify(await at(t + 5)))).toBe('accepted')
    for (const iat of [t + 6, t + 3600, 9_999_999_999]) {
      const token = await at(iat)
      const err = await Promise.resolve()
        .then(() => verifier.verify(token))
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      expect(isPortcullisError(err, 'PCL_TOKEN_INVALID'), String(iat)).toBe(true)
      expect((err as Error).message).toMatch(/iat/)
    }
    // Once its iat has passed, the same token is accepted.
    const early = await at(t + 60)
    expect(await codeOf(() => verifier.verify(early))).toBe('PCL_TOKEN_INVALID')
    vi.setSystemTime((t + 55) * 1000)
    expect(await codeOf(() => verifier.verify(early))).toBe('accepted')
  })

  it('applies maxTokenAge from iat, and then requires iat', async () => {
    const verifier = verifierWith({ maxTokenAge: 600 })
    const t = epochSeconds()
    const old = await signToken(key, claimsFor(ISSUER, AUDIENCE, { iat: t - 3600, exp: t + 300 }))
    expect(await codeOf(() => verifier.verify(old))).toBe('PCL_TOKEN_EXPIRED')
    const noIat = await signToken(key, claimsFor(ISSUER, AUDIENCE, { iat: undefined }))
    expect(await codeOf(() => verifier.verify(noIat))).toBe('PCL_TOKEN_INVALID')
  })

  it.each([
    ['wrong audience', { aud: 'someone-else' }],
    ['no audience', { aud: undefined }],
    ['no exp', { exp: undefined }],
    ['exp not a number', { exp: 'tomorrow' }],
    ['no sub', { sub: undefined }],
  ])('refuses %s', async (_, extra) => {
    const verifier = verifierWith()
    const token = await signToken(key, claimsFor(ISSUER, AUDIENCE, extra))
    expect(await codeOf(() => verifier.verify(token))).toBe('PCL_TOKEN_INVALID')
  })

  it('refuses a token whose iss differs from the issuer that holds the key', async () => {
    const verifier = verifierWith()
    const token = await signToken(key, claimsFor(`${ISSUER}/`, AUDIENCE))
    expect(await codeOf(() => verifier.verify(token))).toBe('PCL_TOKEN_INVALID')
  })

  it('requires the configured claims', async () => {
    const verifier = verifierWith({ requiredClaims: ['jti'] })
    const without = await signToken(key, claimsFor(ISSUER, AUDIENCE, { jti: undefined }))
    expect(await codeOf(() => verifier.verify(without))).toBe('PCL_TOKEN_INVALID')
    const withJti = await signToken(key, claimsFor(ISSUER, AUDIENCE, { jti: 'j1' }))
    expect(await codeOf(() => verifier.verify(withJti))).toBe('accepted')
  })

  it('without typ (or with typ: false) accepts an ID token for the same audience', async () => {
    // What the startup warning is about: an OpenID Connect ID token whose aud is this service.
    const idToken = await signToken(key, claimsFor(ISSUER, AUDIENCE, { nonce: 'n' }), {
      typ: 'JWT',
    })
    expect(await codeOf(() => verifierWith().verify(idToken))).toBe('accepted')
    expect(await codeOf(() => verifierWith({ typ: false }).verify(idToken))).toBe('accepted')
    expect(await codeOf(() => verifierWith({ typ: 'at+jwt' }).verify(idToken))).toBe(
      'PCL_TOKEN_INVALID',
    )
  })

  it('checks typ case-insensitively, with or without application/ (RFC 9068 §4)', async () => {
    const verifier = verifierWith({ typ: 'at+jwt' })
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/At+JWT']) {
      const token = await signToken(key, claimsFor(ISSUER, AUDIENCE), { typ })
      expect(await codeOf(() => verifier.verify(token))).toBe('accepted')
    }
    for (const typ of ['JWT', 'jwt', undefined, 'at+jwt2', 'application/jwt']) {
      const token = await signToken(
        key,
        claimsFor(ISSUER, AUDIENCE),
        typ === undefined ? {} : { typ },
      )
      expect(await codeOf(() => verifier.verify(token))).toBe('PCL_TOKEN_INVALID')
    }
  })
})

describe('several issuers', () => {
  it('accepts each issuer’s tokens only with its own keys', async () => {
    const verifier = createVerifier({
      issuers: [
        issuerWith(),
        {
          issuer: 'https://partner.test',
          audience: AUDIENCE,
          algorithms: ['EdDSA'],
          keys: [other.publicKey],
        },
      ],
    })
    const first = await signToken(key, claimsFor(ISSUER, AUDIENCE))
    const second = await signToken(other, claimsFor('https://partner.test', AUDIENCE))
    expect((await verifier.verify(first)).issuer).toBe(ISSUER)
    expect((await verifier.verify(second)).issuer).toBe('https://partner.test')

    // Each issuer's key signing a token that claims the other issuer.
    const crossA = await signToken(key, claimsFor('https://partner.test', AUDIENCE), {
      alg: 'ES256',
    })
    expect(await codeOf(() => verifier.verify(crossA))).toBe('PCL_TOKEN_INVALID')
    const crossB = await signToken(other, claimsFor(ISSUER, AUDIENCE))
    expect(await codeOf(() => verifier.verify(crossB))).toBe('PCL_TOKEN_INVALID')
  })

  it('picks among several keys of one issuer by kid, and tries each without a kid', async () => {
    const second = await createTestKey({ kid: 'k2', alg: 'ES256' })
    const verifier = verifierWith({ jwks: { keys: [key.jwk, second.jwk] } })
    expect(
      await codeOf(async () =>
        verifier.verify(await signToken(second, claimsFor(ISSUER, AUDIENCE))),
      ),
    ).toBe('accepted')
    const noKid = await signToken(
      { alg: 'ES256', privateKey: second.privateKey },
      claimsFor(ISSUER, AUDIENCE),
    )
    expect(await codeOf(() => verifier.verify(noKid))).toBe('accepted')
    const unknownKid = await signToken(second, claimsFor(ISSUER, AUDIENCE), { kid: 'k3' })
    expect(await codeOf(() => verifier.verify(unknownKid))).toBe('PCL_TOKEN_INVALID')
  })

  it('verifies with every kind of configured key: KeyObject, CryptoKey, JWK, oct JWK', async () => {
    const { KeyObject } = await import('node:crypto')
    const rsa = await createTestKey({ kid: 'r1', alg: 'PS256' })
    const secret = new Uint8Array(48).fill(9)
    const verifier = createVerifier({
      issuers: [
        {
          issuer: 'https://ko.test',
          audience: AUDIENCE,
          algorithms: ['PS256'],
          keys: [KeyObject.from(rsa.publicKey)],
        },
        {
          issuer: 'https://ck.test',
          audience: AUDIENCE,
          algorithms: ['EdDSA'],
          keys: [other.publicKey],
        },
        { issuer: 'https://jwk.test', audience: AUDIENCE, algorithms: ['ES256'], keys: [key.jwk] },
        {
          issuer: 'https://oct.test',
          audience: AUDIENCE,
          algorithms: ['HS384'],
          jwks: { keys: [{ kty: 'oct', k: Buffer.from(secret).toString('base64url'), kid: 's1' }] },
        },
      ],
    })
    const tokens = await Promise.all([
      signToken(rsa, claimsFor('https://ko.test', AUDIENCE)),
      signToken(other, claimsFor('https://ck.test', AUDIENCE)),
      signToken(key, claimsFor('https://jwk.test', AUDIENCE)),
      signToken(
        { alg: 'HS384', kid: 's1', privateKey: secret },
        claimsFor('https://oct.test', AUDIENCE),
      ),
    ])
    for (const token of tokens) expect(await codeOf(() => verifier.verify(token))).toBe('accepted')
  })

  it('verifies HMAC tokens with a configured secret', async () => {
    const secret = new Uint8Array(32).fill(7)
    const verifier = createVerifier({
      issuers: [{ issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], keys: [secret] }],
    })
    const token = await signToken({ alg: 'HS256', privateKey: secret }, claimsFor(ISSUER, AUDIENCE))
    expect((await verifier.verify(token)).subject).toBe('user-1')
    // The forgery is the genuine token's header and payload, by construction, under an HMAC
    // made with another secret: only the signature differs, so a cache (or anything else) keyed
    // on anything but the whole token, signature included, would serve it.
    const signingInput = token.slice(0, token.lastIndexOf('.'))
    const forged = `${signingInput}.${createHmac('sha256', new Uint8Array(32).fill(8))
      .update(signingInput)
      .digest('base64url')}`
    expect(forged.slice(0, forged.lastIndexOf('.'))).toBe(signingInput)
    expect(forged).not.toBe(token)
    expect(await codeOf(() => verifier.verify(forged))).toBe('PCL_TOKEN_INVALID')
    // Still refused once the genuine token is cached, and the genuine one is still served.
    expect(await codeOf(() => verifier.verify(token))).toBe('accepted')
    expect(await codeOf(() => verifier.verify(forged))).toBe('PCL_TOKEN_INVALID')
    expect((await verifier.verify(token)).subject).toBe('user-1')
  })
})
