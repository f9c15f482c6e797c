import { createHash } from 'node:crypto'
import { isPortcullisError } from '@portcullis/core'
import {
  buildPayload,
  createJwksServer,
  createTestKey,
  rawToken,
  signToken,
  type JwksServer,
  type MintOptions,
  type TestKey,
} from '@portcullis/testing'
import { base64url, exportJWK, exportSPKI, SignJWT, type JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TokensOptions } from '../options/index.js'
import { createVerifier, type Verifier } from './create-verifier.js'

const ISSUER = 'https://auth.test'
const REMOTE = 'https://remote.test'
const AUDIENCE = 'api'

/** Claims of a valid token for `issuer` and `audience`: five minutes, `sub` user-1, a jti. */
const claimsFor = (issuer: string, audience: string, extra: MintOptions = {}): JWTPayload =>
  buildPayload({ issuer, audience }, extra)

/** Any JSON value as a base64url segment, for hand-made tokens. */
const segment = (value: unknown): string => base64url.encode(JSON.stringify(value))

let es: TestKey
let rs: TestKey
let attacker: TestKey
let jwksServer: JwksServer
let attackerServer: JwksServer
let jwksUri: string
let attackerUri: string
let verifier: Verifier
const seenErrors: { token: string; err: unknown }[] = []

beforeAll(async () => {
  ;[es, rs, attacker] = await Promise.all([
    createTestKey({ kid: 'es-1', alg: 'ES256' }),
    createTestKey({ kid: 'rs-1', alg: 'RS256' }),
    createTestKey({ kid: 'es-1', alg: 'ES256' }), // same kid as the real key
  ])
  jwksServer = createJwksServer({ keys: [rs.jwk] })
  attackerServer = createJwksServer({ keys: [attacker.jwk] })
  ;[jwksUri, attackerUri] = await Promise.all([jwksServer.listen(), attackerServer.listen()])
  const options: TokensOptions = {
    issuers: [
      { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], jwks: { keys: [es.jwk] } },
      { issuer: REMOTE, audience: AUDIENCE, algorithms: ['RS256'], jwksUri },
      {
        issuer: 'https://rsa-keys.test',
        audience: AUDIENCE,
        algorithms: ['RS256', 'PS256'],
        keys: [rs.publicKey],
      },
    ],
    cache: false,
    maxTokenBytes: 4096,
  }
  verifier = createVerifier(options)
})

afterAll(async () => {
  await Promise.all([jwksServer.close(), attackerServer.close()])
  // Whatever went wrong, no error ever quoted the token it refused.
  for (const { token, err } of seenErrors) {
    const texts = [String(err), JSON.stringify(err), (err as Error).stack ?? '']
    const cause = (err as { cause?: unknown }).cause
    if (cause instanceof Error) texts.push(String(cause), JSON.stringify(cause))
    if (token.length < 8) continue
    for (const text of texts) {
      expect(text).not.toContain(token)
      const [, payload] = token.split('.')
      if (payload !== undefined && payload.length > 8) expect(text).not.toContain(payload)
    }
  }
  expect(seenErrors.length).toBeGreaterThan(40)
})

async function codeOf(token: string, using: Verifier = verifier): Promise<string> {
  try {
    await using.verify(token)
  } catch (err) {
    seenErrors.push({ token, err })
    return isPortcullisError(err) ? err.code : `not a PortcullisError: ${String(err)}`
  }
  return 'accepted'
}

describe('algorithm attacks (RFC 8725 §2.1, §3.1)', () => {
  it('accepts the genuine tokens this suite attacks', async () => {
    expect(await codeOf(await signToken(es, claimsFor(ISSUER, AUDIENCE)))).toBe('accepted')
    expect(await codeOf(await signToken(rs, claimsFor(REMOTE, AUDIENCE)))).toBe('accepted')
    expect(await codeOf(await signToken(rs, claimsFor('https://rsa-keys.test', AUDIENCE)))).toBe(
      'accepted',
    )
  })

  it.each(['none', 'None', 'NONE', 'nOnE'])(
    'refuses alg %s with or without a signature',
    async (alg) => {
      const before = jwksServer.requests
      for (const iss of [ISSUER, REMOTE]) {
        const claims = claimsFor(iss, AUDIENCE)
        expect(await codeOf(rawToken({ alg, typ: 'JWT' }, claims))).toBe('PCL_TOKEN_INVALID')
        expect(await codeOf(rawToken({ alg }, claims, 'c2ln'))).toBe('PCL_TOKEN_INVALID')
        expect(await codeOf(rawToken({ alg, kid: 'rs-1' }, claims, 'c2ln'))).toBe(
          'PCL_TOKEN_INVALID',
        )
      }
      expect(jwksServer.requests).toBe(before)
    },
  )

  it('refuses HS256 signed with an asymmetric issuer’s public key in any encoding', async () => {
    const secrets = [
      new TextEncoder().encode(await exportSPKI(es.publicKey)),
      new TextEncoder().encode(await exportSPKI(rs.publicKey)),
      new TextEncoder().encode(JSON.stringify(es.jwk)),
      new TextEncoder().encode(JSON.stringify(rs.jwk)),
      base64url.decode(String(rs.jwk.n)),
    ]
    const before = jwksServer.requests
    for (const secret of secrets) {
      for (const [iss, kid] of [
        [ISSUER, 'es-1'],
        [REMOTE, 'rs-1'],
        ['https://rsa-keys.test', undefined],
      ] as const) {
        const token = await signToken(
          { alg: 'HS256', ...(kid === undefined ? {} : { kid }), privateKey: secret },
          claimsFor(iss, AUDIENCE),
        )
        expect(await codeOf(token)).toBe('PCL_TOKEN_INVALID')
      }
    }
    expect(jwksServer.requests).toBe(before)
  })

  it('refuses an algorithm of the right family that the issuer does not allow', async () => {
    const before = jwksServer.requests
    const token = rawToken({ alg: 'RS512', kid: 'rs-1' }, claimsFor(REMOTE, AUDIENCE), 'c2ln')
    expect(await codeOf(token)).toBe('PCL_TOKEN_INVALID')
    const ps = rawToken({ alg: 'PS256', kid: 'rs-1' }, claimsFor(REMOTE, AUDIENCE), 'c2ln')
    expect(await codeOf(ps)).toBe('PCL_TOKEN_INVALID')
    expect(jwksServer.requests).toBe(before)
    const noAlg = rawToken({ kid: 'es-1' }, claimsFor(ISSUER, AUDIENCE), 'c2ln')
    expect(await codeOf(noAlg)).toBe('PCL_TOKEN_INVALID')
  })

  it('refuses a valid signature from a key that is not configured, even with a known kid', async () => {
    expect(await codeOf(await signToken(attacker, claimsFor(ISSUER, AUDIENCE)))).toBe(
      'PCL_TOKEN_INVALID',
    )
    expect(
      await codeOf(
        await signToken(attacker, claimsFor(REMOTE, AUDIENCE), { alg: 'ES256', kid: 'rs-1' }),
      ),
    ).toBe('PCL_TOKEN_INVALID')
    const rogueRsa = await createTestKey({ kid: 'rs-1', alg: 'RS256' })
    expect(await codeOf(await signToken(rogueRsa, claimsFor(REMOTE, AUDIENCE)))).toBe(
      'PCL_TOKEN_INVALID',
    )
    expect(
      await codeOf(await signToken(rogueRsa, claimsFor('https://rsa-keys.test', AUDIENCE))),
    ).toBe('PCL_TOKEN_INVALID')
  })
})

describe('key-finding headers are never used (RFC 8725 §3.10)', () => {
  const cert = base64url.encode(new Uint8Array(64))
  const injections = (jwk: object, url: string): Record<string, unknown>[] => [
    { jwk },
    { jku: url },
    { x5u: url },
    { x5c: [cert] },
    { jwk, jku: url, x5u: url, x5c: [cert] },
  ]

  it('refuses tokens signed by an attacker key advertised in jwk, jku, x5u or x5c', async () => {
    const attackerJwk = await exportJWK(attacker.publicKey)
    const before = jwksServer.requests
    for (const header of injections(attackerJwk, attackerUri)) {
      for (const kid of ['es-1', 'attacker', undefined]) {
        const token = await signToken(
          { alg: 'ES256', ...(kid === undefined ? {} : { kid }), privateKey: attacker.privateKey },
          claimsFor(ISSUER, AUDIENCE),
          header,
        )
        expect(await codeOf(token)).toBe('PCL_TOKEN_INVALID')
      }
      const rogueRsa = await createTestKey({ kid: 'rs-1', alg: 'RS256' })
      const rsaHeader = {
        ...header,
        ...(header.jwk ? { jwk: await exportJWK(rogueRsa.publicKey) } : {}),
      }
      expect(await codeOf(await signToken(rogueRsa, claimsFor(REMOTE, AUDIENCE), rsaHeader))).toBe(
        'PCL_TOKEN_INVALID',
      )
    }
    expect(attackerServer.requests).toBe(0)
    // The remote issuer may refetch its own JWKS for an unknown key, never more than once here.
    expect(jwksServer.requests - before).toBeLessThanOrEqual(1)
  })

  it('still accepts a genuine token that merely carries such headers', async () => {
    const token = await signToken(es, claimsFor(ISSUER, AUDIENCE), { jku: attackerUri })
    expect(await codeOf(token)).toBe('accepted')
    expect(attackerServer.requests).toBe(0)
  })
})

describe('crit (RFC 7515 §4.1.11)', () => {
  it('refuses a token with an unknown critical header parameter', async () => {
    const token = await new SignJWT(claimsFor(ISSUER, AUDIENCE))
      .setProtectedHeader({
        alg: 'ES256',
        kid: 'es-1',
        crit: ['urn:example:must-understand'],
        'urn:example:must-understand': true,
      })
      .sign(es.privateKey, { crit: { 'urn:example:must-understand': true } })
    expect(await codeOf(token)).toBe('PCL_TOKEN_INVALID')
  })

  it('refuses malformed crit and an unencoded payload (b64: false)', async () => {
    const claims = claimsFor(ISSUER, AUDIENCE)
    expect(await codeOf(rawToken({ alg: 'ES256', kid: 'es-1', crit: [] }, claims, 'c2ln'))).toBe(
      'PCL_TOKEN_INVALID',
    )
    expect(
      await codeOf(rawToken({ alg: 'ES256', kid: 'es-1', crit: ['exp'] }, claims, 'c2ln')),
    ).toBe('PCL_TOKEN_INVALID')
    expect(
      await codeOf(
        rawToken({ alg: 'ES256', kid: 'es-1', b64: false, crit: ['b64'] }, claims, 'c2ln'),
      ),
    ).toBe('PCL_TOKEN_INVALID')
  })
})

describe('malformed and oversized tokens', () => {
  const header = segment({ alg: 'ES256', kid: 'es-1' })
  const payload = (): string => segment(claimsFor(ISSUER, AUDIENCE))

  it.each([
    ['empty', () => ''],
    ['one segment', () => 'abc'],
    ['two segments', () => `${header}.${payload()}`],
    ['four segments', () => `${header}.${payload()}.c2ln.c2ln`],
    ['a JWE (five segments)', () => `${segment({ alg: 'dir', enc: 'A256GCM' })}..aXY.Y3Q.dGFn`],
    ['empty payload', () => `${header}..c2ln`],
    ['empty header', () => `.${payload()}.c2ln`],
    ['padding', () => `${header}.${payload()}.c2ln==`],
    ['base64 (not url) characters', () => `${header}.${payload()}+/.c2ln`],
    ['whitespace', () => ` ${header}.${payload()}.c2ln`],
    ['non-ASCII', () => `${header}.${payload()}é.c2ln`],
    ['impossible base64 length', () => `${header}.${payload()}A.c2ln`],
    ['header not JSON', () => `${base64url.encode('not json')}.${payload()}.c2ln`],
    ['payload not JSON', () => `${header}.${base64url.encode('{"iss": ')}.c2ln`],
    ['payload a JSON array', () => `${header}.${segment([1, 2])}.c2ln`],
    ['payload a JSON string', () => `${header}.${segment('x')}.c2ln`],
    ['header a JSON array', () => `${segment(['ES256'])}.${payload()}.c2ln`],
    [
      'payload invalid UTF-8',
      () => `${header}.${base64url.encode(new Uint8Array([0x7b, 0xff, 0x7d]))}.c2ln`,
    ],
    ['iss missing', () => rawToken({ alg: 'ES256' }, { sub: 'x' }, 'c2ln')],
    ['iss not a string', () => rawToken({ alg: 'ES256' }, { iss: ['https://auth.test'] }, 'c2ln')],
    [
      'iss unknown',
      () => rawToken({ alg: 'ES256' }, claimsFor('https://evil.test', AUDIENCE), 'c2ln'),
    ],
    [
      'iss a prototype key',
      () => rawToken({ alg: 'ES256' }, claimsFor('__proto__', AUDIENCE), 'c2ln'),
    ],
    ['a garbage signature', () => `${header}.${payload()}.${'A'.repeat(86)}`],
  ])('refuses %s with PCL_TOKEN_INVALID, never a 500', async (_, make) => {
    const before = jwksServer.requests
    expect(await codeOf(make())).toBe('PCL_TOKEN_INVALID')
    expect(jwksServer.requests).toBe(before)
  })

  it('refuses a token over maxTokenBytes before parsing it', async () => {
    const big = `${header}.${segment({ ...claimsFor(ISSUER, AUDIENCE), pad: 'x'.repeat(4096) })}.c2ln`
    expect(await codeOf(big)).toBe('PCL_TOKEN_TOO_LARGE')
    expect(await codeOf('@'.repeat(4097))).toBe('PCL_TOKEN_TOO_LARGE')
    expect(await codeOf('@'.repeat(4096))).toBe('PCL_TOKEN_INVALID')
  })

  it('throws synchronously when no I/O is needed to refuse', () => {
    expect(() => verifier.verify('a.b')).toThrow(
      expect.objectContaining({ code: 'PCL_TOKEN_INVALID' }),
    )
    expect(() => verifier.verify('x'.repeat(5000))).toThrow(
      expect.objectContaining({ code: 'PCL_TOKEN_TOO_LARGE' }),
    )
  })

  it('refuses a valid token for another verifier’s issuer without any network call', async () => {
    const before = jwksServer.requests
    const token = await signToken(rs, claimsFor('https://unknown.test', AUDIENCE))
    expect(await codeOf(token)).toBe('PCL_TOKEN_INVALID')
    expect(jwksServer.requests).toBe(before)
  })
})

describe('errors never leak', () => {
  it('hides the claims jose attaches to claim errors from enumeration', async () => {
    const secretClaim = createHash('sha256').update('secret-claim').digest('hex')
    const token = await signToken(es, claimsFor(ISSUER, 'wrong-audience', { secret: secretClaim }))
    try {
      await verifier.verify(token)
      expect.unreachable()
    } catch (err) {
      seenErrors.push({ token, err })
      const cause = (err as { cause?: object }).cause ?? {}
      expect(Object.keys(cause)).not.toContain('payload')
      expect(JSON.stringify(cause)).not.toContain(secretClaim)
      expect(String(err)).not.toContain(secretClaim)
    }
  })
})
