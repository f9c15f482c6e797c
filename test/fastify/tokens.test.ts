import type { AddressInfo } from 'node:net'
import portcullis, { type AuditEvent } from '@portcullis/fastify'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  expectDuplicateRefused,
  expectQueryToken,
  expectRefusal,
  injected,
  rawRequest,
} from '../cases/checks.js'
import {
  claimTokenCases,
  closeIssuers,
  duplicateAuthorization,
  forgedTokenCases,
  invalid,
  malformedHeaderCases,
  malformedTokenCases,
  queryTokenCases,
  revocationCases,
  startIssuers,
  type TokenCase,
} from '../cases/tokens.js'

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
  ;({ issuer, other, jwksUri } = await startIssuers())
})
afterAll(() => closeIssuers({ issuer, other }))

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
  app.get('/v1/events', { config: { guard: { authenticated: true, queryToken: true } } }, (req) => {
    runs++
    return { sub: req.principal?.subject }
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
  expectRefusal(injected(res), expected, { token, events: h.events, logs: h.logs })
  expect(h.handlerRuns()).toBe(before)
}

// The refused tokens shared with the Express adapter's suite (test/cases/tokens.ts).
async function refusesToken({ token, expect: expected, tokens }: TokenCase): Promise<void> {
  const h = await harness(tokens)
  await expectRefused(h, await token({ issuer, other }), expected)
}

describe('forged and confused tokens are 401 invalid_token', () => {
  it.each(forgedTokenCases)('$name', refusesToken)

  it('each issuer’s own tokens are accepted beside them', async () => {
    const h = await harness()
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
  it.each(claimTokenCases)('$name', refusesToken)

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
  it.each(malformedTokenCases)('$name: refused, never 500', refusesToken)

  it.each(malformedHeaderCases)('$name', async ({ authorization, expect: expected }) => {
    const h = await harness()
    await expectRefused(h, '', expected, { authorization })
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
})

// Fastify's own request log prints the URL, query included: that line is the app's logger
// configuration, so only our responses and audit events are checked for the token here.
describe('query-string tokens', () => {
  it.each(queryTokenCases)('$name', async (c) => {
    const h = await harness()
    const token = c.forged
      ? await issuer.bad.wrongKey({ sub: 'x' })
      : await issuer.token({ sub: 'u' })
    const res = await h.app.inject({
      url: c.url(token),
      headers: c.withHeader ? bearer(token) : {},
    })
    expectQueryToken(injected(res), c, token, h.events)
  })
})

describe('duplicate Authorization headers', () => {
  it('are 400 invalid_request over real HTTP, even when both hold valid tokens', async () => {
    const h = await harness()
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = h.app.server.address() as AddressInfo
    const token = await issuer.token({ sub: 'user-1' })
    // Raw bytes on a socket: the header really is sent twice.
    const reply = await rawRequest(port, duplicateAuthorization(token))
    expectDuplicateRefused(reply, token)
    expect(h.handlerRuns()).toBe(0)
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

  it.each(revocationCases)('$name', refusesToken)
})
