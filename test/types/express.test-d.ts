// Compile-only type tests: `pnpm typecheck` fails if any expectation or @ts-expect-error breaks.
import {
  createGuard,
  type BodySpec,
  type AuthenticatedRequest,
  type Guard,
  type InventoryEntry,
  type OpenApiOptions,
  type Principal,
  type RouteGuard,
} from '@portcullis/express'
import type { GuardedOperation } from '@portcullis/policy'
import express, { type RequestHandler } from 'express'
import { expectTypeOf } from 'vitest'

const guard = createGuard({
  tokens: {
    issuers: [
      { issuer: 'https://a', audience: 'api', algorithms: ['ES256'], jwksUri: 'https://a/jwks' },
    ],
  },
  rateLimit: {
    max: 600,
    timeWindow: '1 minute',
    // A key function may take Express's own request type.
    key: (principal, request: express.Request) => `${principal.subject}:${request.ip ?? ''}`,
  },
  response: { requireResponse: false },
})
expectTypeOf(guard).toEqualTypeOf<Guard>()

const app = express()
// guard(...) is route middleware, typed from the same RouteGuard as Fastify's config.guard.
app.get('/ok', guard({ public: 'probe' }), (_req, res) => res.json({ ok: true }))
app.get(
  '/v1/videos/:id',
  guard({
    scopes: ['videos:read'],
    claims: { owner: { param: 'id' } },
    rateLimit: { max: 100, timeWindow: '1 minute', key: 'client' },
    response: { allow: ['id', 'title'], maxItems: 10 },
  }),
  (req, res) => {
    // req.principal is typed by importing the package.
    expectTypeOf(req.principal).toEqualTypeOf<Principal | null>()
    if (req.principal !== null) {
      expectTypeOf(req.principal.scopes).toEqualTypeOf<ReadonlySet<string>>()
      // @ts-expect-error the principal is read-only
      req.principal.subject = 'someone-else'
    }
    const { principal } = req as AuthenticatedRequest
    expectTypeOf(principal.subject).toEqualTypeOf<string>()
    res.json({ id: req.params.id })
  },
)
expectTypeOf(guard({ authenticated: true })).toEqualTypeOf<RequestHandler>()
// guard.body is typed on Express from the same RouteGuard.
guard({ scopes: ['videos:write'], body: { writable: ['title'], byScope: { admin: ['ownerId'] } } })
// @ts-expect-error maxBytes is a number of bytes
guard({ authenticated: true, body: { writable: ['title'], maxBytes: '64kb' } })
expectTypeOf<RouteGuard['body']>().toEqualTypeOf<BodySpec | undefined>()
createGuard({ tokens: { issuers: [] }, requireBody: true })
guard.seal(app)
expectTypeOf(guard.routes()).toEqualTypeOf<readonly InventoryEntry[]>()

// @ts-expect-error public must be a string reason
guard({ public: true })
// @ts-expect-error a misspelled requirement does not compile (and is refused at run time)
guard({ scopez: ['a'] })
// @ts-expect-error an exemption states its reason
guard({ authenticated: true, rateLimit: false })
const asFastify: RouteGuard = { authenticated: true, queryToken: true }
guard(asFastify)

// @ts-expect-error tokens are required
createGuard({})
// @ts-expect-error unknown options do not compile
createGuard({ tokens: { issuers: [] }, unguardedRoutes: 'deny' })

// OpenAPI from the guards: the fragment's operations and options are typed.
expectTypeOf<Guard['openapi']>().parameter(0).toEqualTypeOf<OpenApiOptions | undefined>()
expectTypeOf(guard.openapi().paths).toEqualTypeOf<
  Readonly<Record<string, Readonly<Record<string, GuardedOperation>>>>
>()
// @ts-expect-error a misspelled option
guard.openapi({ narrow: true })
// RFC 9728: `resource` and `authorizationServers` are required.
createGuard({
  tokens: { issuers: [] },
  // @ts-expect-error authorizationServers is missing
  resourceMetadata: { resource: 'https://api.example' },
})
