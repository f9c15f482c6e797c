import { createGuard, type AuditEvent } from '@portcullis/express'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import express from 'express'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  expectDuplicateRefused,
  expectQueryToken,
  expectRefusal,
  fetched,
  rawRequest,
} from '../cases/checks.js'
import {
  claimTokenCases,
  closeIssuers,
  duplicateAuthorization,
  forgedTokenCases,
  INVALID_TOKEN,
  malformedHeaderCases,
  malformedTokenCases,
  queryTokenCases,
  revocationCases,
  startIssuers,
  type Refusal,
  type TokenCase,
} from '../cases/tokens.js'
import { capturingLogger, fetchReply, listen } from './helpers.js'

// The token cases of the Fastify suite (test/cases/tokens.ts), against the Express adapter, with
// the same checks: status, problem+json code, challenge, the handler never ran, and the raw
// token appears in no response, no audit event and no log line.

let issuer: TestIssuer
let other: TestIssuer
let jwksUri: string

beforeAll(async () => {
  ;({ issuer, other, jwksUri } = await startIssuers())
})
afterAll(() => closeIssuers({ issuer, other }))

interface Harness {
  base: string
  logs: string[]
  events: AuditEvent[]
  runs: () => number
}

const open: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()))
  issuer.setJwksBehavior('ok')
})

async function harness(tokens: Readonly<Record<string, unknown>> = {}): Promise<Harness> {
  const logs: string[] = []
  const events: AuditEvent[] = []
  let runs = 0
  const guard = createGuard({
    tokens: {
      issuers: [
        { issuer: issuer.issuer, audience: 'videos-api', algorithms: ['ES256'], jwksUri },
        { issuer: other.issuer, audience: 'videos-api', algorithms: ['ES256'], jwks: other.jwks },
      ],
      realm: 'videos',
      jwks: { cooldown: 30_000 },
      ...tokens,
    },
    audit: (event) => void events.push(event),
    logger: capturingLogger(logs),
    response: { requireResponse: false },
  })
  const app = express()
  app.get('/v1/videos/:id', guard({ authenticated: true }), (req, res) => {
    runs++
    res.json({ id: req.params.id, sub: req.principal?.subject })
  })
  app.get('/v1/events', guard({ authenticated: true, queryToken: true }), (req, res) => {
    runs++
    res.json({ sub: req.principal?.subject })
  })
  app.get('/healthz', guard({ public: 'probe' }), (_req, res) => {
    runs++
    res.json({ ok: true })
  })
  guard.seal(app)
  const { server, base } = await listen(app)
  open.push(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return { base, logs, events, runs: () => runs }
}

async function expectRefused(
  h: Harness,
  token: string,
  expected: Refusal,
  headers: Record<string, string> = bearer(token),
  url = '/v1/videos/1',
): Promise<void> {
  const before = h.runs()
  const res = await fetchReply(h.base, url, { headers })
  expectRefusal(fetched(res), expected, { token, events: h.events, logs: h.logs })
  expect(h.runs()).toBe(before)
}

async function refusesToken({ token, expect: expected, tokens }: TokenCase): Promise<void> {
  const h = await harness(tokens)
  await expectRefused(h, await token({ issuer, other }), expected)
}

describe('the shared token cases', () => {
  it.each(forgedTokenCases)('forged: $name', refusesToken)
  it.each(claimTokenCases)('claims: $name', refusesToken)
  it.each(malformedTokenCases)('malformed: $name', refusesToken)
  it.each(malformedHeaderCases)('header: $name', async ({ authorization, expect: expected }) => {
    await expectRefused(await harness(), '', expected, { authorization })
  })
})

describe('valid tokens', () => {
  it('each issuer’s tokens are accepted, the scheme case-insensitively, and the principal is frozen', async () => {
    const h = await harness()
    for (const [scheme, minter] of [
      ['Bearer', issuer],
      ['bearer', other],
      ['BEARER', issuer],
    ] as const) {
      const token = await minter.token({ sub: 'user-1', scope: 'videos:read' })
      const res = await fetchReply(h.base, '/v1/videos/1', {
        headers: { authorization: `${scheme} ${token}` },
      })
      expect(res.status, scheme).toBe(200)
      expect(res.json()).toEqual({ id: '1', sub: 'user-1' })
    }
  })

  it('an invalid token on a public route is refused, not ignored', async () => {
    const h = await harness()
    await expectRefused(
      h,
      await issuer.bad.expired(),
      {
        status: 401,
        code: 'PCL_TOKEN_EXPIRED',
        challenge: INVALID_TOKEN,
      },
      undefined,
      '/healthz',
    )
  })
})

describe('query-string tokens', () => {
  it.each(queryTokenCases)('$name', async (c) => {
    const h = await harness()
    const token = c.forged
      ? await issuer.bad.wrongKey({ sub: 'x' })
      : await issuer.token({ sub: 'u' })
    const res = await fetchReply(h.base, c.url(token), {
      headers: c.withHeader ? bearer(token) : {},
    })
    expectQueryToken(fetched(res), c, token, h.events)
    expect(h.logs.join('')).not.toContain(token)
  })
})

describe('duplicate Authorization headers', () => {
  it('are 400 invalid_request, even when both hold valid tokens', async () => {
    const h = await harness()
    const token = await issuer.token({ sub: 'user-1' })
    const port = Number(new URL(h.base).port)
    expectDuplicateRefused(await rawRequest(port, duplicateAuthorization(token)), token)
    expect(h.runs()).toBe(0)
  })
})

describe('outages', () => {
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
    await expectRefused(h, await lonely.token({ sub: 'u' }), {
      status: 503,
      code: 'PCL_KEYS_UNAVAILABLE',
      challenge: undefined,
    })
    expect(h.events.find((e) => e.reason === 'PCL_KEYS_UNAVAILABLE')).toMatchObject({
      decision: 'deny',
      status: 503,
      route: '/v1/videos/:id',
    })
    await lonely.close()
  })

  it.each(revocationCases)('$name', refusesToken)
})
