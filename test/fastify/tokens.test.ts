import type { AddressInfo } from 'node:net'
import portcullis, { serializeRequest, type AuditEvent } from '@portcullis/fastify'
import { bearer, type TestIssuer } from '@portcullis/testing'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  expectDuplicateRefused,
  expectQueryToken,
  expectRefusedRequest,
  injected,
  rawRequest,
} from '../cases/checks.js'
import {
  claimTokenCases,
  closeIssuers,
  duplicateAuthorization,
  forgedTokenCases,
  malformedHeaderCases,
  malformedTokenCases,
  queryTokenCases,
  revocationCases,
  startIssuers,
  tokenScenarios,
  type TokenApp,
  type TokenCase,
} from '../cases/tokens.js'

// Every refused token is checked the same way: status, problem+json code, challenge, the handler
// never ran, and the raw token appears in no response and no log line.

interface Harness extends TokenApp {
  app: FastifyInstance
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

async function harness(
  extra: Record<string, unknown> = {},
  { redact = true }: { redact?: boolean } = {},
): Promise<Harness> {
  const logs: string[] = []
  const events: AuditEvent[] = []
  let runs = 0
  const app = Fastify({
    logger: {
      level: 'trace',
      stream: { write: (line: string) => void logs.push(line) },
      // What the docs tell users to set: Fastify logs every URL before any hook can refuse it.
      ...(redact ? { serializers: { req: serializeRequest } } : {}),
    },
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
  app.get('/v1/me', { config: { guard: { authenticated: true } } }, (req) => {
    runs++
    const p = req.principal!
    return {
      frozen: Object.isFrozen(p) && Object.isFrozen(p.claims),
      subject: p.subject,
      issuer: p.issuer,
      clientId: p.clientId,
      scopes: [...p.scopes].sort(),
    }
  })
  open.push(app)
  return {
    app,
    logs,
    events,
    runs: () => runs,
    get: async (url, headers = {}) => injected(await app.inject({ url, headers })),
  }
}

// The cases shared with the Express adapter's suite (test/cases/tokens.ts).
async function refusesToken({ token, expect: expected, tokens }: TokenCase): Promise<void> {
  const h = await harness(tokens)
  await expectRefusedRequest(h, await token({ issuer, other }), expected)
}

describe('forged and confused tokens are 401 invalid_token', () => {
  it.each(forgedTokenCases)('$name', refusesToken)
})

describe('claims', () => {
  it.each(claimTokenCases)('$name', refusesToken)
})

describe('malformed and oversized input', () => {
  it.each(malformedTokenCases)('$name: refused, never 500', refusesToken)

  it.each(malformedHeaderCases)('$name', async ({ authorization, expect: expected }) => {
    await expectRefusedRequest(await harness(), '', expected, { headers: { authorization } })
  })
})

describe('scenarios', () => {
  it.each(tokenScenarios)('$name', (scenario) =>
    scenario.run({ issuer, other, jwksUri, app: harness }),
  )
})

// Fastify's own request log prints the URL, query included, before any hook runs. With the
// request serializer the docs prescribe (serializeRequest), no log line holds the token.
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
    expect(h.logs.join('')).not.toContain(token)
    expect(h.logs.join('')).not.toContain(token.split('.')[2])
  })

  it('reach Fastify’s incoming-request line without serializeRequest, and never with it', async () => {
    const token = await issuer.token({ sub: 'u' })
    const url = `/v1/videos/1?page=2&access%5Ftoken=${token}`
    const bare = await harness({}, { redact: false })
    expect((await bare.app.inject({ url })).statusCode).toBe(400)
    expect(bare.logs.join('')).toContain(token)

    const redacted = await harness()
    expect((await redacted.app.inject({ url })).statusCode).toBe(400)
    const lines = redacted.logs.map((line) => JSON.parse(line) as { msg?: string; req?: unknown })
    expect(lines.find((line) => line.msg === 'incoming request')?.req).toMatchObject({
      method: 'GET',
      url: '/v1/videos/1?page=2&access%5Ftoken=[REDACTED]',
    })
    expect(redacted.logs.join('')).not.toContain(token)
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
    expect(h.runs()).toBe(0)
  })
})

describe('revocation', () => {
  it.each(revocationCases)('$name', refusesToken)
})
