import { createGuard, type AuditEvent } from '@portcullis/express'
import { bearer, type TestIssuer } from '@portcullis/testing'
import express from 'express'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  expectDuplicateRefused,
  expectQueryToken,
  expectRefusedRequest,
  fetched,
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

interface Harness extends TokenApp {
  base: string
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
  app.get('/v1/me', guard({ authenticated: true }), (req, res) => {
    runs++
    const p = req.principal!
    res.json({
      frozen: Object.isFrozen(p) && Object.isFrozen(p.claims),
      subject: p.subject,
      issuer: p.issuer,
      clientId: p.clientId,
      scopes: [...p.scopes].sort(),
    })
  })
  guard.seal(app)
  const { server, base } = await listen(app)
  open.push(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return {
    base,
    logs,
    events,
    runs: () => runs,
    get: async (url, headers = {}) => fetched(await fetchReply(base, url, { headers })),
  }
}

// The cases shared with the Fastify suite (test/cases/tokens.ts).
async function refusesToken({ token, expect: expected, tokens }: TokenCase): Promise<void> {
  const h = await harness(tokens)
  await expectRefusedRequest(h, await token({ issuer, other }), expected)
}

describe('the shared token cases', () => {
  it.each(forgedTokenCases)('forged: $name', refusesToken)
  it.each(claimTokenCases)('claims: $name', refusesToken)
  it.each(malformedTokenCases)('malformed: $name', refusesToken)
  it.each(malformedHeaderCases)('header: $name', async ({ authorization, expect: expected }) => {
    await expectRefusedRequest(await harness(), '', expected, { headers: { authorization } })
  })
  it.each(revocationCases)('revocation: $name', refusesToken)
})

describe('scenarios', () => {
  it.each(tokenScenarios)('$name', (scenario) =>
    scenario.run({ issuer, other, jwksUri, app: harness }),
  )
})

// The Express adapter logs through the guard's logger only: unlike Fastify's request log, no
// line may hold a query-string token.
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
