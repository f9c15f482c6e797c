import type { AuditEvent } from '@portcullis/core'
import type { PortcullisOptions } from '@portcullis/fastify'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { SpanStatusCode } from '@opentelemetry/api'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { trustedTokens } from '../helpers.js'
import { RedisServer, runRedisTests } from '../rate-limit/redis-server.js'
import {
  auditInto,
  createOtel,
  startApp,
  sum,
  type Adapter,
  type Otel,
  type TestApp,
  type TestRoute,
} from './otel.js'

const SUBJECT = 'alice-subject-7f3a'
const CLIENT = 'history-svc-client-9c1e'
const reader = { sub: SUBJECT, client_id: CLIENT, scope: 'videos:read' }

let issuer: TestIssuer
beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
})

const open: TestApp[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()))
})

const routes: TestRoute[] = [
  {
    path: '/v1/videos/:id',
    guard: { scopes: ['videos:read'], response: { allow: ['id', 'title'] } },
    body: ({ id }) => ({
      id,
      title: 'Big Buck Bunny',
      ownerEmail: 'owner@example.test',
      uploadIp: '10.0.0.7',
    }),
  },
  {
    path: '/admin/:id',
    guard: { scopes: ['videos:admin'], response: { allow: ['id'] } },
    body: ({ id }) => ({ id }),
  },
  {
    path: '/limited',
    guard: {
      scopes: ['videos:read'],
      rateLimit: { max: 1, timeWindow: '1 minute' },
      response: { allow: ['id'] },
    },
    body: () => ({ id: 'one' }),
  },
  {
    path: '/history',
    guard: {
      scopes: ['videos:read'],
      budget: { unit: 'items', max: 1, timeWindow: '1 hour' },
      response: { allow: ['items[].id'], maxItems: 100 },
    },
    body: () => ({ items: [{ id: 1, secret: 'never leaves' }] }),
  },
  {
    path: '/enum/:id',
    guard: {
      scopes: ['videos:read'],
      enumeration: { param: 'id', maxDistinct: 1, timeWindow: '1 hour' },
      response: { allow: ['id'] },
    },
    body: ({ id }) => ({ id }),
  },
  {
    path: '/strict/:id',
    guard: { scopes: ['videos:read'], response: { allow: ['id'], mode: 'reject' } },
    body: ({ id }) => ({ id, uploadIp: '10.0.0.7' }),
  },
]

const DECISIONS = 'portcullis.decisions'

async function start(
  adapter: Adapter,
  otel: Otel | null,
  extra: Partial<PortcullisOptions> = {},
  events: AuditEvent[] = [],
): Promise<TestApp> {
  const app = await startApp(
    adapter,
    {
      tokens: trustedTokens(issuer),
      rateLimit: { max: 100, timeWindow: '1 minute' },
      audit: auditInto(events),
      ...(otel === null
        ? {}
        : {
            telemetry: { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider },
          }),
      ...extra,
    },
    routes,
    otel?.tracer ?? null,
  )
  open.push(app)
  return app
}

describe.each<Adapter>(['fastify', 'express'])('telemetry on %s', (adapter) => {
  it('an allowed request: a decision, its duration, a verification, the fields stripped, and spans under the server span', async () => {
    const otel = createOtel()
    const app = await start(adapter, otel)
    const token = await issuer.token(reader)
    expect((await app.request('/v1/videos/42', bearer(token))).status).toBe(200)
    expect((await app.request('/v1/videos/43', bearer(token))).status).toBe(200)

    const decisions = await otel.points(DECISIONS)
    expect(decisions).toEqual([
      {
        attributes: {
          'http.request.method': 'GET',
          'http.route': '/v1/videos/:id',
          'portcullis.decision': 'allowed',
          'portcullis.reason': 'PCL_ALLOWED',
        },
        value: 2,
      },
    ])
    const durations = await otel.points('portcullis.guard.duration')
    expect(
      sum(durations, { 'portcullis.decision': 'allowed', 'http.route': '/v1/videos/:id' }),
    ).toBe(2)

    const verifications = await otel.points('portcullis.token.verifications')
    const byIssuer = { 'portcullis.token.issuer': 'https://auth.test' }
    expect(sum(verifications, { ...byIssuer, 'portcullis.token.result': 'verified' })).toBe(1)
    expect(sum(verifications, { ...byIssuer, 'portcullis.token.result': 'cache_hit' })).toBe(1)
    // Two undeclared fields stripped from each of the two responses.
    expect(
      sum(await otel.points('portcullis.allowlist.fields_removed'), {
        'http.route': '/v1/videos/:id',
      }),
    ).toBe(4)

    const spans = otel.spans()
    const servers = spans.filter((span) => span.name === 'GET server')
    expect(servers).toHaveLength(2)
    const [server] = servers
    const children = spans.filter(
      (span) => span.parentSpanContext?.spanId === server!.spanContext().spanId,
    )
    expect(children.map((span) => span.name).sort()).toEqual([
      'portcullis.authenticate',
      'portcullis.decide',
      'portcullis.project',
      'portcullis.rate_limit',
    ])
    for (const span of children) {
      expect(span.spanContext().traceId).toBe(server!.spanContext().traceId)
      expect(span.attributes).toMatchObject({
        'http.route': '/v1/videos/:id',
        'http.request.method': 'GET',
      })
      expect(span.status.code).not.toBe(SpanStatusCode.ERROR)
    }
    const decide = children.find((span) => span.name === 'portcullis.decide')!
    expect(decide.events.map((event) => event.attributes)).toEqual([
      { 'portcullis.decision': 'allowed', 'portcullis.reason': 'PCL_ALLOWED' },
    ])
    const project = children.find((span) => span.name === 'portcullis.project')!
    expect(project.attributes['portcullis.allowlist.fields_removed']).toBe(2)
  })

  it('401 without a token and with an invalid one: denials by reason, a refused verification, error spans', async () => {
    const otel = createOtel()
    const app = await start(adapter, otel)
    expect((await app.request('/v1/videos/1')).status).toBe(401)
    const forged = (await issuer.token(reader)).slice(0, -4) + 'AAAA'
    expect((await app.request('/v1/videos/1', bearer(forged))).status).toBe(401)
    expect((await app.request('/v1/videos/1', bearer('not-a-jwt'))).status).toBe(401)

    const decisions = await otel.points(DECISIONS)
    const missing = {
      'http.route': '/v1/videos/:id',
      'portcullis.decision': 'denied',
      'error.type': 'PCL_TOKEN_MISSING',
      'http.response.status_code': 401,
    }
    expect(sum(decisions, missing)).toBe(1)
    expect(
      sum(decisions, { 'portcullis.decision': 'denied', 'error.type': 'PCL_TOKEN_INVALID' }),
    ).toBe(2)
    const verifications = await otel.points('portcullis.token.verifications')
    expect(
      sum(verifications, {
        'portcullis.token.result': 'refused',
        'error.type': 'PCL_TOKEN_INVALID',
      }),
    ).toBe(2)
    // The forged token named a configured issuer; the garbage one named none.
    expect(
      sum(verifications, {
        'portcullis.token.result': 'refused',
        'portcullis.token.issuer': 'https://auth.test',
      }),
    ).toBe(1)

    const refusedSpans = otel
      .spans()
      .filter((span) => span.status.code === SpanStatusCode.ERROR)
      .map((span) => [span.name, span.attributes['error.type'], span.status.message])
    expect(refusedSpans).toEqual(
      expect.arrayContaining([
        ['portcullis.decide', 'PCL_TOKEN_MISSING', undefined],
        ['portcullis.authenticate', 'PCL_TOKEN_INVALID', undefined],
      ]),
    )
    expect(refusedSpans).toHaveLength(3)
  })

  it('403 for a missing scope', async () => {
    const otel = createOtel()
    const app = await start(adapter, otel)
    expect((await app.request('/admin/1', bearer(await issuer.token(reader)))).status).toBe(403)
    expect(await otel.points(DECISIONS)).toEqual([
      {
        attributes: {
          'http.request.method': 'GET',
          'http.route': '/admin/:id',
          'portcullis.decision': 'denied',
          'portcullis.reason': 'PCL_INSUFFICIENT_SCOPE',
          'error.type': 'PCL_INSUFFICIENT_SCOPE',
          'http.response.status_code': 403,
        },
        value: 1,
      },
    ])
    const decide = otel.spans().find((span) => span.name === 'portcullis.decide')!
    expect(decide.status.code).toBe(SpanStatusCode.ERROR)
    expect(decide.attributes['http.response.status_code']).toBe(403)
  })

  it('429 from the rate limit, a budget and an enumeration limit: limit refusals by kind', async () => {
    const otel = createOtel()
    const app = await start(adapter, otel)
    const headers = bearer(await issuer.token(reader))
    expect((await app.request('/enum/1', headers)).status).toBe(200)
    expect((await app.request('/enum/2', headers)).status).toBe(429)
    expect((await app.request('/limited', headers)).status).toBe(200)
    expect((await app.request('/limited', headers)).status).toBe(429)
    expect((await app.request('/history', headers)).status).toBe(200)
    expect((await app.request('/history', headers)).status).toBe(429)

    const refusals = await otel.points('portcullis.limit.refusals')
    expect(
      sum(refusals, {
        'http.route': '/limited',
        'portcullis.limit.kind': 'rate_limit',
        'portcullis.decision': 'denied',
        'error.type': 'PCL_RATE_LIMITED',
      }),
    ).toBe(1)
    expect(
      sum(refusals, {
        'http.route': '/history',
        'portcullis.limit.kind': 'budget',
        'error.type': 'PCL_BUDGET_EXHAUSTED',
      }),
    ).toBe(1)
    expect(
      sum(refusals, {
        'http.route': '/enum/:id',
        'portcullis.limit.kind': 'enumeration',
        'error.type': 'PCL_ENUMERATION',
      }),
    ).toBe(1)
    expect(refusals.reduce((total, p) => total + p.value, 0)).toBe(3)
    const decisions = await otel.points(DECISIONS)
    expect(
      sum(decisions, { 'error.type': 'PCL_RATE_LIMITED', 'http.response.status_code': 429 }),
    ).toBe(1)
    const spans = otel.spans()
    const limit = spans.find(
      (span) => span.name === 'portcullis.rate_limit' && span.status.code === SpanStatusCode.ERROR,
    )
    expect(limit?.attributes['error.type']).toBe('PCL_RATE_LIMITED')
    const budget = spans.find(
      (span) => span.name === 'portcullis.budget' && span.status.code === SpanStatusCode.ERROR,
    )
    expect(budget?.attributes['error.type']).toBe('PCL_BUDGET_EXHAUSTED')
  })

  it('report-only: a denial counted as reported, the request served', async () => {
    const otel = createOtel()
    const app = await start(adapter, otel, { reportOnly: true })
    expect((await app.request('/admin/1', bearer(await issuer.token(reader)))).status).toBe(200)
    expect(await otel.points(DECISIONS)).toEqual([
      {
        attributes: {
          'http.request.method': 'GET',
          'http.route': '/admin/:id',
          'portcullis.decision': 'reported',
          'portcullis.reason': 'PCL_INSUFFICIENT_SCOPE',
          'error.type': 'PCL_INSUFFICIENT_SCOPE',
        },
        value: 1,
      },
    ])
    const decide = otel.spans().find((span) => span.name === 'portcullis.decide')!
    expect(decide.status.code).not.toBe(SpanStatusCode.ERROR)
    expect(decide.events[0]?.attributes?.['portcullis.decision']).toBe('reported')
  })

  it('a response the allowlist refuses (reject mode): a refusal, a 500 decision, an error span', async () => {
    const otel = createOtel()
    const app = await start(adapter, otel)
    expect((await app.request('/strict/1', bearer(await issuer.token(reader)))).status).toBe(500)
    expect(await otel.points('portcullis.allowlist.refusals')).toEqual([
      {
        attributes: {
          'http.request.method': 'GET',
          'http.route': '/strict/:id',
          'error.type': 'PCL_RESPONSE_REJECTED',
        },
        value: 1,
      },
    ])
    const project = otel.spans().find((span) => span.name === 'portcullis.project')!
    expect(project.status.code).toBe(SpanStatusCode.ERROR)
    expect(project.attributes['error.type']).toBe('PCL_RESPONSE_REJECTED')
    // Nothing was removed from a response that did not leave.
    expect(project.attributes).not.toHaveProperty('portcullis.allowlist.fields_removed')
    expect(await otel.points('portcullis.allowlist.fields_removed')).toEqual([])
    // The undeclared field's name is in the audit event; its value is nowhere.
    expect((await otel.everyValue()).map(String)).not.toContain('10.0.0.7')
  })

  it('a JWKS outage: failed fetches counted by issuer and reason, the 503 as a decision', async () => {
    const otel = createOtel()
    const jwksUri = await issuer.listen()
    issuer.setJwksBehavior({ status: 500 })
    try {
      const app = await start(adapter, otel, {
        tokens: {
          issuers: [
            { issuer: issuer.issuer, audience: issuer.audience, algorithms: ['ES256'], jwksUri },
          ],
        },
      })
      const headers = bearer(await issuer.token(reader))
      expect((await app.request('/v1/videos/1', headers)).status).toBe(503)
      const fetches = await otel.points('portcullis.jwks.fetches')
      expect(fetches).toEqual([
        {
          attributes: {
            'portcullis.token.issuer': 'https://auth.test',
            'portcullis.jwks.outcome': 'failure',
            'error.type': 'status',
          },
          value: 1,
        },
      ])
      const decisions = await otel.points(DECISIONS)
      expect(
        sum(decisions, { 'error.type': 'PCL_KEYS_UNAVAILABLE', 'http.response.status_code': 503 }),
      ).toBe(1)
      const verifications = await otel.points('portcullis.token.verifications')
      expect(sum(verifications, { 'error.type': 'PCL_KEYS_UNAVAILABLE' })).toBe(1)
    } finally {
      issuer.setJwksBehavior('ok')
      await issuer.close()
    }
  })

  it('a JWKS that answers: one successful fetch, then cache hits', async () => {
    const otel = createOtel()
    const jwksUri = await issuer.listen()
    try {
      const app = await start(adapter, otel, {
        tokens: {
          issuers: [
            { issuer: issuer.issuer, audience: issuer.audience, algorithms: ['ES256'], jwksUri },
          ],
        },
      })
      const headers = bearer(await issuer.token(reader))
      expect((await app.request('/v1/videos/1', headers)).status).toBe(200)
      expect((await app.request('/v1/videos/1', headers)).status).toBe(200)
      expect(await otel.points('portcullis.jwks.fetches')).toEqual([
        {
          attributes: {
            'portcullis.token.issuer': 'https://auth.test',
            'portcullis.jwks.outcome': 'success',
          },
          value: 1,
        },
      ])
    } finally {
      await issuer.close()
    }
  })

  it('never puts the token, the subject or the client id in an attribute', async () => {
    const otel = createOtel()
    const app = await start(adapter, otel)
    const token = await issuer.token(reader)
    await app.request('/v1/videos/1', bearer(token))
    await app.request('/admin/1', bearer(token))
    await app.request('/limited', bearer(token))
    await app.request('/limited', bearer(token))
    await app.request('/v1/videos/1', bearer(`${token}x`))
    await app.request('/v1/videos/1?access_token=' + token)
    const values = (await otel.everyValue()).map(String)
    expect(values.length).toBeGreaterThan(20)
    for (const value of values) {
      expect(value).not.toContain(SUBJECT)
      expect(value).not.toContain(CLIENT)
      expect(value).not.toContain(token.split('.')[2]!)
      expect(value).not.toContain('owner@example.test')
      expect(value).not.toContain('?')
    }
  })

  it('puts the subject and client id on spans when each is opted into, never on metrics', async () => {
    const otel = createOtel()
    const app = await start(adapter, otel, {
      telemetry: {
        meterProvider: otel.meterProvider,
        tracerProvider: otel.tracerProvider,
        attributes: { subject: true, clientId: true },
      },
    })
    expect((await app.request('/v1/videos/1', bearer(await issuer.token(reader)))).status).toBe(200)
    const decide = otel.spans().find((span) => span.name === 'portcullis.decide')!
    expect(decide.attributes['enduser.id']).toBe(SUBJECT)
    expect(decide.attributes['portcullis.client_id']).toBe(CLIENT)
    const metricValues = (await otel.points(DECISIONS)).flatMap((p) => Object.values(p.attributes))
    expect(metricValues).not.toContain(SUBJECT)

    const subjectOnly = createOtel()
    const other = await start(adapter, subjectOnly, {
      telemetry: {
        meterProvider: subjectOnly.meterProvider,
        tracerProvider: subjectOnly.tracerProvider,
        attributes: { subject: true },
      },
    })
    await other.request('/v1/videos/1', bearer(await issuer.token(reader)))
    const span = subjectOnly.spans().find((s) => s.name === 'portcullis.decide')!
    expect(span.attributes['enduser.id']).toBe(SUBJECT)
    expect(span.attributes['portcullis.client_id']).toBeUndefined()
  })

  it('records nothing with enabled: false, and no guard spans without a server span', async () => {
    const off = createOtel()
    const app = await start(adapter, off, {
      telemetry: {
        enabled: false,
        meterProvider: off.meterProvider,
        tracerProvider: off.tracerProvider,
      },
    })
    expect((await app.request('/v1/videos/1', bearer(await issuer.token(reader)))).status).toBe(200)
    expect(await off.names()).toEqual([])
    expect(off.spans().filter((s) => s.name.startsWith('portcullis.'))).toEqual([])

    const orphan = createOtel()
    const bare = await startApp(
      adapter,
      {
        tokens: trustedTokens(issuer),
        rateLimit: { max: 100, timeWindow: '1 minute' },
        telemetry: { meterProvider: orphan.meterProvider, tracerProvider: orphan.tracerProvider },
      },
      routes,
      null,
    )
    open.push(bare)
    expect((await bare.request('/v1/videos/1', bearer(await issuer.token(reader)))).status).toBe(
      200,
    )
    expect(orphan.spans()).toEqual([])
    expect(sum(await orphan.points(DECISIONS), { 'portcullis.decision': 'allowed' })).toBe(1)
  })

  it('counts each audit event once, with the same route, method and reason', async () => {
    const otel = createOtel()
    const events: AuditEvent[] = []
    const app = await start(adapter, otel, {}, events)
    const headers = bearer(await issuer.token(reader))
    await app.request('/v1/videos/1', headers)
    await app.request('/admin/1', headers)
    await app.request('/nowhere')
    const decisions = await otel.points(DECISIONS)
    expect(decisions.reduce((total, p) => total + p.value, 0)).toBe(events.length)
    for (const event of events) {
      const match = {
        'portcullis.reason': event.reason,
        'http.request.method': event.method,
        ...(event.route === null ? {} : { 'http.route': event.route }),
      }
      expect(sum(decisions, match)).toBeGreaterThan(0)
    }
    // An unknown URL has no route: no `http.route`, never the raw path.
    const unknown = decisions.find((p) => p.attributes['error.type'] === 'PCL_TOKEN_MISSING')
    expect(unknown?.attributes['http.route']).toBeUndefined()
  })

  it('refuses a bad telemetry option at startup, naming the field', async () => {
    await expect(
      startApp(
        adapter,
        { tokens: trustedTokens(issuer), telemetry: { attributes: { subject: 'yes' } } as never },
        routes.slice(0, 1),
        null,
      ),
    ).rejects.toMatchObject({
      code: 'PCL_INVALID_OPTIONS',
      message: expect.stringContaining('telemetry.attributes.subject'),
    })
    await expect(
      startApp(
        adapter,
        { tokens: trustedTokens(issuer), telemetry: { meterProvider: {} } as never },
        routes.slice(0, 1),
        null,
      ),
    ).rejects.toMatchObject({ code: 'PCL_INVALID_OPTIONS', field: 'telemetry.meterProvider' })
  })
})

describe.runIf(runRedisTests).each<Adapter>(['fastify', 'express'])(
  'a Redis outage on %s',
  (adapter) => {
    let redis: RedisServer
    beforeAll(async () => {
      redis = await RedisServer.start()
    })
    afterAll(async () => {
      await redis.stop()
    })

    it.each(['fail-closed', 'fail-open'] as const)(
      '%s: store errors counted with the fail mode applied',
      async (onStoreError) => {
        await redis.restart()
        const otel = createOtel()
        const app = await start(adapter, otel, {
          rateLimit: {
            max: 100,
            timeWindow: '1 minute',
            redis: redis.url,
            onStoreError,
            storeTimeout: 200,
          },
        })
        const headers = bearer(await issuer.token(reader))
        expect((await app.request('/limited', headers)).status).toBe(200)
        await redis.stop()
        const status = (await app.request('/limited', headers)).status
        expect(status).toBe(onStoreError === 'fail-closed' ? 503 : 200)
        const errors = await otel.points('portcullis.store.errors')
        expect(errors).toEqual([
          {
            attributes: {
              'http.request.method': 'GET',
              'http.route': '/limited',
              'portcullis.store.fail_mode': onStoreError === 'fail-closed' ? 'closed' : 'open',
              'error.type': 'PCL_STORE_UNAVAILABLE',
            },
            value: 1,
          },
        ])
        const decisions = await otel.points(DECISIONS)
        expect(
          sum(decisions, {
            'portcullis.reason': 'PCL_STORE_UNAVAILABLE',
            'portcullis.decision': onStoreError === 'fail-closed' ? 'denied' : 'allowed',
          }),
        ).toBe(1)
        const limit = otel
          .spans()
          .filter((span) => span.name === 'portcullis.rate_limit')
          .at(-1)!
        expect(limit.events.map((event) => event.attributes?.['portcullis.reason'])).toEqual([
          'PCL_STORE_UNAVAILABLE',
        ])
      },
    )
  },
)
