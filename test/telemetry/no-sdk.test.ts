// No OpenTelemetry SDK registered: the guard behaves the same and records nothing anywhere.
import { metrics, trace } from '@opentelemetry/api'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { trustedTokens } from '../helpers.js'
import { createOtel, startApp, type Adapter, type TestApp } from './otel.js'

let issuer: TestIssuer
beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
})

const open: TestApp[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()))
})

describe.each<Adapter>(['fastify', 'express'])('no SDK on %s', (adapter) => {
  it('serves, refuses and strips as without telemetry', async () => {
    const app = await startApp(
      adapter,
      { tokens: trustedTokens(issuer), rateLimit: { max: 1, timeWindow: '1 minute' } },
      [
        {
          path: '/v/:id',
          guard: { scopes: ['videos:read'], response: { allow: ['id'] } },
          body: ({ id }) => ({ id, secret: 'x' }),
        },
      ],
      null,
    )
    open.push(app)
    const token = await issuer.token({ sub: 'alice', scope: 'videos:read' })
    expect(await app.request('/v/1', bearer(token))).toEqual({ status: 200, body: { id: '1' } })
    expect((await app.request('/v/1', bearer(token))).status).toBe(429)
    expect((await app.request('/v/1')).status).toBe(401)
  })

  it('takes no SDK registered after the guard was created: register it first', async () => {
    const otel = createOtel()
    const app = await startApp(
      adapter,
      { tokens: trustedTokens(issuer) },
      [
        {
          path: '/v/:id',
          guard: { scopes: ['videos:read'], response: { allow: ['id'] } },
          body: ({ id }) => ({ id }),
        },
      ],
      otel.tracer,
    )
    open.push(app)
    metrics.setGlobalMeterProvider(otel.meterProvider)
    trace.setGlobalTracerProvider(otel.tracerProvider)
    try {
      const token = await issuer.token({ sub: 'alice', scope: 'videos:read' })
      expect((await app.request('/v/1', bearer(token))).status).toBe(200)
      expect(await otel.names()).toEqual([])
      expect(otel.spans().map((span) => span.name)).toEqual(['GET server'])
    } finally {
      metrics.disable()
      trace.disable()
    }
  })
})
