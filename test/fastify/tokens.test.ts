import { connect, type AddressInfo } from 'node:net'
import portcullis, { type AuditEvent } from '@portcullis/fastify'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import Fastify, { type FastifyInstance } from 'fastify'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

// Every refused token is checked the same way: status, problem+json code, challenge, the handler
// never ran, and the raw token appears in no response and no log line.

interface Harness {
  app: FastifyInstance
  logs: string[]
  events: AuditEvent[]
  handlerRuns: () => number
}

let issuer: TestIssuer
let other: TestIssuer
let jwksUri: string

beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: 'https://auth.one.test', audience: 'videos-api' })
  other = await createTestIssuer({ issuer: 'https://auth.two.test', audience: 'videos-api' })
  jwksUri = await issuer.listen()
})
afterAll(async () => {
  await issuer.close()
  await other.close()
})

const open: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()))
  issuer.setJwksBehavior('ok')
})

async function harness(extra: Record<string, unknown> = {}): Promise<Harness> {
  const logs: string[] = []
  const events: AuditEvent[] = []
  let runs = 0
  const app = Fastify({
    logger: { level: 'trace', stream: { write: (line: string) => void logs.push(line) } },
  })
  await app.register(portcullis, {
    tokens: {
      issuers: [
        { issuer: issuer.issuer, audience: 'videos-api', algorithms: ['ES256'], jwksUri },
        { issuer: other.issuer, audience: 'videos-api', algorithms: ['ES256'], jwks: other.jwks },
      ],
      realm: 'videos',
      jwks: { cooldown: 30_000 },
      ...extra,
    },
    audit: (event) => void events.push(event),
    // This suite is about tokens; response allowlists have their own.
    response: { requireResponse: false },
  })
  app.get('/v1/videos/:id', { config: { guard: { authenticated: true } } }, (req) => {
    runs++
    return { id: (req.params as { id: string }).id, sub: req.principal?.subject }
  })
  app.get('/healthz', { config: { guard: { public: 'probe' } } }, () => {
    runs++
    return { ok: true }
  })
  open.push(app)
  return { app, logs, events, handlerRuns: () => runs }
}

async function expectRefused(
  h: Harness,
  token: string,
  expected: { status: number; code: string; challenge: RegExp | undefined },
  headers: Record<string, string | string[]> = bearer(token),
  url = '/v1/videos/1',
): Promise<void> {
  const before = h.handlerRuns()
  const res = await h.app.inject({ url, headers })
  expect(res.statusCode).toBe(expected.status)
  expect(res.headers['content-type']).toBe('application/problem+json')
  expect(res.json()).toMatchObject({ code: expected.code, status: expected.status })
  if (expected.challenge === undefined) expect(res.headers['www-authenticate']).toBeUndefined()
  else expect(res.headers['www-authenticate']).toMatch(expected.challenge)
  expect(h.handlerRuns()).toBe(before)
  if (token.length > 0) {
    const signature = token.split('.')[2] ?? token
    expect(res.body).not.toContain(token)
    expect(h.logs.join('\n')).not.toContain(token)
    expect(JSON.stringify(h.events)).not.toContain(token)
    if (signature.length > 10) expect(h.logs.join('\n')).not.toContain(signature)
  }
}

const INVALID = /^Bearer realm="videos", error="invalid_token", error_description="[^"]+"$/
const invalid = { status: 401, code: 'PCL_TOKEN_INVALID', challenge: INVALID }

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

describe('forged and confused tokens are 401 invalid_token', () => {
  it.each(['none', 'None', 'NONE', 'nOnE'])('alg: %s (unsigned)', async (alg) => {
    const h = await harness()
    const payload = { iss: issuer.issuer, aud: 'videos-api', sub: 'attacker', exp: 9_999_999_999 }
    const unsigned = `${b64url({ alg, typ: 'at+jwt', kid: issuer.kid })}.${b64url(payload)}.`
    await expectRefused(h, unsigned, invalid)
    // The same with a junk signature segment is refused too.
    await expectRefused(h, `${unsigned}AAAA`, invalid)
  })

  it('HS256 signed with the public key of an ES256 issuer', async () => {
    const h = await harness()
    await expectRefused(h, await issuer.bad.hs256WithPublicKey({ sub: 'attacker' }), invalid)
  })

  it('a valid signature from an unconfigured key', async () => {
    const h = await harness()
    await expectRefused(h, await issuer.bad.wrongKey({ sub: 'attacker' }), invalid)
  })

  it.each(['jwk', 'jku', 'x5u', 'x5c'])(
    'a key advertised in the `%s` header is never used',
    async (param) => {
      const h = await harness()
      const attacker = await generateKeyPair('ES256', { extractable: true })
      const jwk = await exportJWK(attacker.publicKey)
      const value =
        param === 'jwk'
          ? jwk
          : param === 'x5c'
            ? ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA']
            : 'http://127.0.0.1:1/attacker-jwks.json'
      const token = await new SignJWT({ sub: 'attacker' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker', [param]: value })
        .setIssuer(issuer.issuer)
        .setAudience('videos-api')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(attacker.privateKey)
      await expectRefused(h, token, invalid)
    },
  )

  it('an unknown critical header (RFC 7515 §4.1.11)', async () => {
    const h = await harness()
    const token = await issuer.token({ sub: 'user-1' }, { crit: ['x-unknown'], 'x-unknown': 1 })
    await expectRefused(h, token, invalid)
  })

  it('a token of one issuer signed with the other issuer’s key', async () => {
    const h = await harness()
    // `other` signs with its own key but claims to be `issuer`.
    const token = await other.token({ sub: 'user-1', iss: issuer.issuer })
    await expectRefused(h, token, invalid)
    // And each issuer's own tokens are accepted.
    for (const t of [await issuer.token({ sub: 'a' }), await other.token({ sub: 'b' })]) {
      expect((await h.app.inject({ url: '/v1/videos/1', headers: bearer(t) })).statusCode).toBe(200)
    }
  })

  it('an unconfigured issuer is refused without any JWKS request', async () => {
    const h = await harness()
    const before = issuer.jwksRequests
    await expectRefused(h, await issuer.token({ sub: 'x', iss: 'https://evil.test' }), invalid)
    expect(issuer.jwksRequests).toBe(before)
  })
})

describe('claims', () => {
  it('expired is PCL_TOKEN_EXPIRED', async () => {
    const h = await harness()
    await expectRefused(h, await issuer.bad.expired(), {
      status: 401,
      code: 'PCL_TOKEN_EXPIRED',
      challenge: INVALID,
    })
  })

  it.each([
    ['not yet valid', () => issuer.bad.notYetValid()],
    ['wrong audience', () => issuer.bad.wrongAudience()],
    ['wrong issuer', () => issuer.bad.wrongIssuer()],
    ['no exp', () => issuer.token({ sub: 'user-1', exp: undefined, expiresIn: undefined })],
    ['no sub', () => issuer.token({ sub: undefined })],
  ])('%s is PCL_TOKEN_INVALID', async (_name, mint) => {
    const h = await harness()
    await expectRefused(h, await mint(), invalid)
  })

  it('wrong typ is refused when the issuer requires at+jwt (RFC 9068)', async () => {
    const h = await harness({
      issuers: [
        {
          issuer: issuer.issuer,
          audience: 'videos-api',
          algorithms: ['ES256'],
          jwksUri,
          typ: 'at+jwt',
        },
      ],
    })
    await expectRefused(h, await issuer.token({ sub: 'u' }, { typ: 'JWT' }), invalid)
    const ok = await h.app.inject({
      url: '/v1/videos/1',
      headers: bearer(await issuer.token({ sub: 'u' })),
    })
    expect(ok.statusCode).toBe(200)
  })
})

describe('malformed and oversized input', () => {
  it.each([
    ['two segments', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0'],
    ['four segments', 'a.b.c.d'],
    ['bad base64 in header', '!!!.eyJzdWIiOiJ4In0.c2ln'],
    ['header that is not JSON', `${Buffer.from('not json').toString('base64url')}.e30.c2ln`],
    [
      'payload that is not JSON',
      `${b64url({ alg: 'ES256' })}.${Buffer.from('{').toString('base64url')}.c2ln`,
    ],
  ])('%s: 401 invalid_token, never 500', async (_name, token) => {
    const h = await harness()
    await expectRefused(h, token, invalid)
  })

  it('a token above maxTokenBytes is refused before parsing', async () => {
    const h = await harness({ maxTokenBytes: 1024 })
    const big = await issuer.token({ sub: 'u', padding: 'x'.repeat(2000) })
    await expectRefused(h, big, { status: 401, code: 'PCL_TOKEN_TOO_LARGE', challenge: INVALID })
  })

  it.each([
    ['Bearer with no token', 'Bearer'],
    ['two tokens', 'Bearer a.b.c d.e.f'],
    ['two spaces', 'Bearer  a.b.c'],
    ['invalid characters', 'Bearer a.b.c!'],
  ])('%s: 401 invalid_token', async (_name, header) => {
    const h = await harness()
    await expectRefused(h, '', invalid, { authorization: header })
  })

  it('another scheme counts as no token: 401 without an error code (RFC 6750 §3.1)', async () => {
    const h = await harness()
    await expectRefused(
      h,
      '',
      { status: 401, code: 'PCL_TOKEN_MISSING', challenge: /^Bearer realm="videos"$/ },
      { authorization: 'Basic dXNlcjpwYXNz' },
    )
  })

  it('the scheme is case-insensitive', async () => {
    const h = await harness()
    const token = await issuer.token({ sub: 'user-1' })
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
      const res = await h.app.inject({
        url: '/v1/videos/1',
        headers: { authorization: `${scheme} ${token}` },
      })
      expect(res.statusCode, scheme).toBe(200)
    }
  })

  // Fastify's own request log prints the URL, query included: that line is the app's logger
  // configuration, so only our response and audit events are checked for the token here.
  it('a token in the query string is refused with 400 invalid_request, even on a public route', async () => {
    const h = await harness()
    const token = await issuer.token({ sub: 'user-1' })
    for (const url of [
      `/v1/videos/1?access_token=${token}`,
      `/healthz?x=1&access_token=${token}`,
    ]) {
      const res = await h.app.inject({ url })
      expect(res.statusCode).toBe(400)
      expect(res.json()).toMatchObject({ code: 'PCL_INVALID_REQUEST' })
      expect(res.headers['www-authenticate']).toMatch(/error="invalid_request"/)
      expect(res.body).not.toContain(token)
    }
    expect(h.handlerRuns()).toBe(0)
    expect(JSON.stringify(h.events)).not.toContain(token)
  })
})

describe('query-string tokens, on a route that opts in', () => {
  it('are accepted only there, only once, and never beside an Authorization header', async () => {
    const h = await harness()
    h.app.get(
      '/v1/events',
      { config: { guard: { authenticated: true, queryToken: true } } },
      (req) => ({ sub: req.principal?.subject }),
    )
    const token = await issuer.token({ sub: 'user-5' })
    const ok = await h.app.inject({ url: `/v1/events?access_token=${token}` })
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toEqual({ sub: 'user-5' })
    const twice = await h.app.inject({
      url: `/v1/events?access_token=${token}&access_token=${token}`,
    })
    expect(twice.statusCode).toBe(400)
    const both = await h.app.inject({
      url: `/v1/events?access_token=${token}`,
      headers: bearer(token),
    })
    expect(both.statusCode).toBe(400)
    expect(both.json()).toMatchObject({ code: 'PCL_INVALID_REQUEST' })
    const forged = await h.app.inject({
      url: `/v1/events?access_token=${await issuer.bad.wrongKey({ sub: 'x' })}`,
    })
    expect(forged.statusCode).toBe(401)
    // Elsewhere, and on unknown URLs, a query token is still refused.
    expect((await h.app.inject({ url: `/v1/videos/1?access_token=${token}` })).statusCode).toBe(400)
    expect((await h.app.inject({ url: `/nowhere?access_token=${token}` })).statusCode).toBe(400)
  })
})

describe('duplicate Authorization headers', () => {
  it('are 400 invalid_request over real HTTP, even when both hold valid tokens', async () => {
    const h = await harness()
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = h.app.server.address() as AddressInfo
    const token = await issuer.token({ sub: 'user-1' })
    // Raw bytes on a socket: the header really is sent twice.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          `GET /v1/videos/1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n` +
            `Authorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
        )
      })
      let data = ''
      socket.on('data', (chunk: Buffer) => (data += chunk.toString()))
      socket.on('end', () => resolve(data))
      socket.on('error', reject)
    })
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1])
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4)
    expect(status).toBe(400)
    expect(JSON.parse(body)).toMatchObject({ code: 'PCL_INVALID_REQUEST' })
    expect(h.handlerRuns()).toBe(0)
    expect(body).not.toContain(token)
  })
})

describe('remote JWKS', () => {
  it('a kid pointing at a missing key refetches at most once per cooldown', async () => {
    const h = await harness()
    // Warm the key set.
    await h.app.inject({ url: '/v1/videos/1', headers: bearer(await issuer.token({ sub: 'u' })) })
    const before = issuer.jwksRequests
    for (let i = 0; i < 5; i++) {
      const token = await issuer.token({ sub: 'u' }, { kid: `missing-${i}` })
      await expectRefused(h, token, invalid)
    }
    expect(issuer.jwksRequests - before).toBeLessThanOrEqual(1)
  })

  it('an unreachable JWKS with no usable key is 503, distinct from invalid_token', async () => {
    const lonely = await createTestIssuer({
      issuer: 'https://auth.three.test',
      audience: 'videos-api',
    })
    const uri = await lonely.listen()
    lonely.setJwksBehavior({ status: 500 })
    const h = await harness({
      issuers: [
        { issuer: lonely.issuer, audience: 'videos-api', algorithms: ['ES256'], jwksUri: uri },
      ],
    })
    const token = await lonely.token({ sub: 'u' })
    await expectRefused(h, token, {
      status: 503,
      code: 'PCL_KEYS_UNAVAILABLE',
      challenge: undefined,
    })
    const deny = h.events.find((e) => e.reason === 'PCL_KEYS_UNAVAILABLE')
    expect(deny).toMatchObject({ decision: 'deny', status: 503 })
    // No hammering: more requests within the cooldown make no more fetches.
    const fetches = lonely.jwksRequests
    for (let i = 0; i < 5; i++) await h.app.inject({ url: '/v1/videos/1', headers: bearer(token) })
    expect(lonely.jwksRequests).toBe(fetches)
    await lonely.close()
  })

  it('key rotation: a new key is picked up without restart', async () => {
    const rotating = await createTestIssuer({
      issuer: 'https://auth.rot.test',
      audience: 'videos-api',
    })
    const uri = await rotating.listen()
    const h = await harness({
      issuers: [
        { issuer: rotating.issuer, audience: 'videos-api', algorithms: ['ES256'], jwksUri: uri },
      ],
      jwks: { cooldown: 1000 },
    })
    const first = await rotating.token({ sub: 'u' })
    expect((await h.app.inject({ url: '/v1/videos/1', headers: bearer(first) })).statusCode).toBe(
      200,
    )
    await rotating.rotate()
    // The new kid is unknown to the cached set: one refetch (the cooldown is 1 s) finds it.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const second = await rotating.token({ sub: 'u' })
    expect((await h.app.inject({ url: '/v1/videos/1', headers: bearer(second) })).statusCode).toBe(
      200,
    )
    await rotating.close()
  })
})

describe('principal', () => {
  it('is frozen, built from verified claims, and typed scopes come from scope and scp', async () => {
    const h = await harness()
    h.app.get('/v1/me', { config: { guard: { authenticated: true } } }, (req) => {
      const p = req.principal!
      return {
        frozen: Object.isFrozen(p) && Object.isFrozen(p.claims),
        subject: p.subject,
        issuer: p.issuer,
        clientId: p.clientId,
        scopes: [...p.scopes].sort(),
      }
    })
    const token = await issuer.token({
      sub: 'user-3',
      scope: 'videos:read videos:list',
      client_id: 'search-svc',
    })
    const res = await h.app.inject({ url: '/v1/me', headers: bearer(token) })
    expect(res.json()).toEqual({
      frozen: true,
      subject: 'user-3',
      issuer: issuer.issuer,
      clientId: 'search-svc',
      scopes: ['videos:list', 'videos:read'],
    })
  })

  it('revoked tokens are 401; a failing revocation check is 503', async () => {
    let mode: 'ok' | 'revoked' | 'broken' = 'revoked'
    const h = await harness({
      isRevoked: () => {
        if (mode === 'broken') throw new Error('revocation store down')
        return mode === 'revoked'
      },
    })
    const token = await issuer.token({ sub: 'user-1' })
    await expectRefused(h, token, { status: 401, code: 'PCL_TOKEN_REVOKED', challenge: INVALID })
    mode = 'broken'
    await expectRefused(h, token, {
      status: 503,
      code: 'PCL_REVOCATION_UNAVAILABLE',
      challenge: undefined,
    })
    mode = 'ok'
    expect((await h.app.inject({ url: '/v1/videos/1', headers: bearer(token) })).statusCode).toBe(
      200,
    )
  })
})
