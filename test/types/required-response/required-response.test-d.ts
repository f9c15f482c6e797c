// A separate compilation, without test/allowlist-types.d.ts (which relaxes the requirement for
// the suites): with the allowlist in force, a route's guard that leaves `response` out fails to
// compile, as it would fail startup.
import type { ResponseSpec } from '@portcullis/allowlist'
import type { DeclaredGuard, RouteGuard } from '@portcullis/core'
import { createGuard } from '@portcullis/express'
import portcullis from '@portcullis/fastify'
import Fastify, { type FastifyPluginAsync } from 'fastify'
import { expectTypeOf } from 'vitest'

expectTypeOf<DeclaredGuard['response']>().toEqualTypeOf<ResponseSpec>()
expectTypeOf<RouteGuard['response']>().toEqualTypeOf<ResponseSpec | undefined>()

const tokens = {
  issuers: [
    { issuer: 'https://a', audience: 'api', algorithms: ['ES256'], jwksUri: 'https://a/jwks' },
  ],
}
const app = Fastify()
await app.register(portcullis, {
  tokens,
  // Named policies are building blocks, not routes: `response` stays optional there.
  policies: { readVideos: { scopes: ['videos:read'] } },
})

app.get('/v', { config: { guard: { authenticated: true, response: { allow: ['id'] } } } }, () => 1)
app.get('/h', { config: { guard: { public: 'probe', response: { allow: ['ok'] } } } }, () => 1)
app.get('/s', { config: { guard: { extends: 'readVideos', response: 'schema' } } }, () => 1)
// @ts-expect-error a guarded route declares its response allowlist
app.get('/no-response', { config: { guard: { authenticated: true } } }, () => 1)
// @ts-expect-error a public one too
app.get('/no-response-public', { config: { guard: { public: 'probe' } } }, () => 1)
app.route({
  method: 'GET',
  url: '/r',
  // @ts-expect-error in every form of route declaration
  config: { guard: { scopes: ['videos:read'] } },
  handler: () => 1,
})

// Prefix defaults are not a route's guard either.
const admin: FastifyPluginAsync = async () => {}
await app.register(admin, { prefix: '/admin', guard: { scopes: ['admin'] } })

const guard = createGuard({ tokens })
guard({ scopes: ['videos:read'], response: { allow: ['id'] } })
guard({ public: 'probe', response: { passthrough: 'a static file' } })
// @ts-expect-error on Express as on Fastify
guard({ scopes: ['videos:read'] })
