// Compile-only: `guard.rateLimit` and the plugin options are typed by importing the package.
import { policyPlugin } from '@portcullis/policy'
import { createPreAuthLimiter, rateLimitPlugin, type RouteRateLimit } from '@portcullis/rate-limit'
import type { PreAuthLimiter } from '@portcullis/tokens'
import Fastify from 'fastify'
import { expectTypeOf } from 'vitest'

const app = Fastify()
await app.register(policyPlugin)
await app.register(rateLimitPlugin, {
  max: 600,
  timeWindow: '1 minute',
  key: (principal, request) => `${principal.subject}:${request.method}`,
  onStoreError: 'fail-open',
})
// @ts-expect-error preAuth goes to the tokens plugin, through createPreAuthLimiter
await app.register(rateLimitPlugin, { max: 1, timeWindow: 1, preAuth: { max: 1, timeWindow: 1 } })
// @ts-expect-error max is required
await app.register(rateLimitPlugin, { timeWindow: 1000 })

app.get(
  '/a',
  { config: { guard: { authenticated: true, rateLimit: { max: 5, timeWindow: 1000 } } } },
  () => 'ok',
)
app.get(
  '/b',
  { config: { guard: { public: 'probe', rateLimit: { exempt: 'health checks' } } } },
  () => 'ok',
)
app.get(
  '/c',
  {
    config: {
      guard: {
        authenticated: true,
        rateLimit: {
          max: 5,
          timeWindow: '1 minute',
          bucket: 'search',
          overrides: [{ when: { callers: ['indexer-svc'], scopes: ['videos:bulk'] }, max: 50 }],
        },
      },
    },
  },
  () => 'ok',
)
// @ts-expect-error an exemption states its reason
app.get('/d', { config: { guard: { authenticated: true, rateLimit: false } } }, () => 'ok')
// @ts-expect-error timeWindow is required
app.get('/e', { config: { guard: { authenticated: true, rateLimit: { max: 5 } } } }, () => 'ok')

expectTypeOf<{ exempt: string }>().toExtend<RouteRateLimit>()
expectTypeOf(
  createPreAuthLimiter({ max: 5, timeWindow: '1 minute' }),
).toEqualTypeOf<PreAuthLimiter>()
