// Compile-only type tests: `pnpm typecheck` fails if any expectation or @ts-expect-error breaks.
import portcullis, {
  serializeRequest,
  type BodySpec,
  type InventoryEntry,
  type OpenApiOptions,
  type PortcullisOptions,
  type Principal,
  type RouteGuard,
} from '@portcullis/fastify'
import Fastify from 'fastify'
import { expectTypeOf } from 'vitest'

const app = Fastify()
// The request serializer fits Fastify's logger option as documented.
Fastify({ logger: { serializers: { req: serializeRequest } } })
Fastify({ logger: { level: 'info', serializers: { req: serializeRequest } } })
await app.register(portcullis, {
  tokens: {
    issuers: [
      { issuer: 'https://a', audience: 'api', algorithms: ['ES256'], jwksUri: 'https://a/jwks' },
    ],
  },
})

// config.guard is typed without any extra import than the plugin's.
app.get('/ok', { config: { guard: { public: 'probe' } } }, () => 'ok')
app.get('/auth', { config: { guard: { authenticated: true } } }, (request) => {
  expectTypeOf(request.principal).toEqualTypeOf<Principal | null>()
  if (request.principal !== null) {
    expectTypeOf(request.principal.subject).toEqualTypeOf<string>()
    expectTypeOf(request.principal.clientId).toEqualTypeOf<string | null>()
    expectTypeOf(request.principal.scopes).toEqualTypeOf<ReadonlySet<string>>()
    // @ts-expect-error the principal is read-only
    request.principal.subject = 'someone-else'
  }
  return 'ok'
})

// @ts-expect-error public must be a string reason
app.get('/bad1', { config: { guard: { public: true } } }, () => 'x')
// @ts-expect-error authenticated is `true` or absent
app.get('/bad2', { config: { guard: { authenticated: false } } }, () => 'x')
// @ts-expect-error a misspelled requirement does not compile (and is refused at startup)
const misspelled: RouteGuard = { scopez: ['a'] }
void misspelled

// guard.body is typed: the writable paths (or a zod object), byScope, unknown, maxBytes.
app.patch(
  '/v1/videos/:id',
  {
    config: {
      guard: {
        scopes: ['videos:write'],
        body: {
          writable: ['title', 'tags[]', 'chapters[].title'],
          byScope: { 'videos:admin': ['ownerId'] },
          unknown: 'strip',
          maxBytes: 65536,
        },
      },
    },
  },
  () => 'ok',
)
app.post(
  '/upload',
  { config: { guard: { authenticated: true, body: { passthrough: 'file' } } } },
  () => 'x',
)
// @ts-expect-error unknown is 'reject' or 'strip'
const drop: BodySpec = { writable: [], unknown: 'drop' }
// @ts-expect-error writable is required
const noWritable: BodySpec = { maxBytes: 1 }
void [drop, noWritable]
// @ts-expect-error a misspelled key does not compile
const writeable: BodySpec = { writeable: ['title'] }
void writeable
expectTypeOf<RouteGuard['body']>().toEqualTypeOf<BodySpec | undefined>()
expectTypeOf<InventoryEntry['body']>().toEqualTypeOf<string | null>()
await app.register(portcullis, { tokens: { issuers: [] }, requireBody: true })

expectTypeOf<RouteGuard['public']>().toEqualTypeOf<string | undefined>()
expectTypeOf(app.portcullis.routes()).toEqualTypeOf<readonly InventoryEntry[]>()

// @ts-expect-error tokens are required
await app.register(portcullis, {})

// Step-up (RFC 9470): acr is a list of strings, maxAuthAge a number of seconds or a duration.
app.get(
  '/step-up',
  { config: { guard: { acr: ['urn:mace:incommon:iap:silver'], maxAuthAge: '15 minutes' } } },
  () => 'ok',
)
app.get('/step-up-seconds', { config: { guard: { maxAuthAge: 900 } } }, () => 'ok')
// @ts-expect-error acr is a list, not one value
app.get('/bad-acr', { config: { guard: { acr: 'gold' } } }, () => 'x')
// @ts-expect-error maxAuthAge is a duration, not a boolean
app.get('/bad-age', { config: { guard: { maxAuthAge: true } } }, () => 'x')
// `openapi` and `resourceMetadata` are typed options of the plugin.
expectTypeOf<PortcullisOptions['openapi']>().toEqualTypeOf<OpenApiOptions | false | undefined>()
await app.register(portcullis, {
  tokens: { issuers: [] },
  openapi: { securityScheme: 'oauth2', narrowResponses: true },
  resourceMetadata: {
    resource: 'https://api.example',
    authorizationServers: ['https://auth.example'],
    resourceName: 'API',
  },
})
await app.register(portcullis, {
  tokens: { issuers: [] },
  // @ts-expect-error authorizationServers must be an array of issuer URLs
  resourceMetadata: { resource: 'https://api.example', authorizationServers: 'https://a' },
})
