// The SDK registered globally, as `NodeSDK.start()` does, and the guard created without a
// `telemetry` option: the default reads the global providers.
import { metrics, trace } from '@opentelemetry/api'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { trustedTokens } from '../helpers.js'
import { createOtel, startApp, sum, type Adapter, type TestApp } from './otel.js'

const otel = createOtel()
let issuer: TestIssuer
beforeAll(async () => {
  metrics.setGlobalMeterProvider(otel.meterProvider)
  trace.setGlobalTracerProvider(otel.tracerProvider)
  issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
})
afterAll(() => {
  metrics.disable()
  trace.disable()
})

const open: TestApp[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()))
})

describe.each<Adapter>(['fastify', 'express'])('the global SDK on %s', (adapter) => {
  it('records decisions and spans with no telemetry option', async () => {
    const route = `/${adapter}/videos/:id`
    const app = await startApp(
      adapter,
      { tokens: trustedTokens(issuer) },
      [
        {
          path: route,
          guard: { scopes: ['videos:read'], response: { allow: ['id'] } },
          body: ({ id }) => ({ id }),
        },
      ],
      otel.tracer,
    )
    open.push(app)
    const token = await issuer.token({ sub: 'alice', scope: 'videos:read' })
    expect((await app.request(`/${adapter}/videos/1`, bearer(token))).status).toBe(200)
    expect((await app.request(`/${adapter}/videos/1`)).status).toBe(401)
    const decisions = await otel.points('portcullis.decisions')
    expect(sum(decisions, { 'http.route': route, 'portcullis.decision': 'allowed' })).toBe(1)
    expect(sum(decisions, { 'http.route': route, 'error.type': 'PCL_TOKEN_MISSING' })).toBe(1)
    const names = otel
      .spans()
      .filter((span) => span.attributes['http.route'] === route)
      .map((span) => span.name)
    expect(names).toEqual(expect.arrayContaining(['portcullis.authenticate', 'portcullis.decide']))
  })
})
