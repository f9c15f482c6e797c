import { type DeclaredGuard } from '@portcullis/core'
import type { InventoryEntry, OpenApiFragment, OpenApiOptions } from '@portcullis/policy'
import { compareEntries, openApiFragment, scopesInUse } from '@portcullis/policy/internal'
import { callSite, createGuardRuntime } from '@portcullis/runtime'
import { RESOURCE_METADATA_REASON } from '@portcullis/tokens/internal'
import type { ResourceMetadataDocument } from '@portcullis/tokens'
import type { Application, RequestHandler } from 'express'
import type { PortcullisExpressOptions } from '../options/index.js'
import { passThrough } from '../lib/symbols.js'
import { sealApp } from '../seal/index.js'
import { createGuardMiddleware } from './guard-middleware.js'

/**
 * The guard of an Express app: call it to get a route's guard middleware, then `seal` the app.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/express.md
 */
export interface Guard {
  /**
   * The middleware that guards one route: put it first in the route's handlers. It verifies the
   * token (`req.principal`), enforces the route guard, counts the rate limit and holds every
   * response to the allowlist. The guard is validated now: a bad one throws a
   * `PortcullisConfigError` naming the field and where `guard(...)` was called.
   */
  (routeGuard: DeclaredGuard): RequestHandler
  /**
   * After every route is declared: proves each route of `app` (nested routers and mounted apps
   * included) has a guard first, or throws `PCL_UNGUARDED_ROUTE` listing every one that has
   * not; then adds the 401/404 answer for unknown URLs and the problem+json error handler.
   * Routes, middleware and `param` callbacks declared after `seal` are refused.
   */
  seal(app: Application): void
  /**
   * Declares a middleware that passes every request on (a request-id, logging or security-headers
   * middleware) so that `seal` accepts it without a guard in front of it; `reason` says why it
   * never answers. Returns the middleware. Express's body parsers need no declaration. A declared
   * middleware that answers anyway has its response refused (403) at run time.
   *
   * @example
   * ```ts
   * app.use(guard.passThrough(requestId(), 'sets x-request-id; never answers'))
   * ```
   */
  passThrough<T extends RequestHandler>(middleware: T, reason: string): T
  /** The inventory of the sealed apps: every route, what it requires, sorted by URL. */
  routes(): readonly InventoryEntry[]
  /**
   * The OpenAPI fragment of the sealed apps, for any generator: per path and method, the
   * security requirement of the guard (`security: []` on public routes) and the 401, 403 and 429
   * problem+json responses it answers, with the components they reference; with
   * `narrowResponses`, the 200 schema from the allowlist. The same as `@portcullis/fastify`
   * writes into `@fastify/swagger`'s document. Options are validated: a bad one throws
   * `PCL_INVALID_OPTIONS`.
   *
   * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/openapi.md
   */
  openapi(options?: OpenApiOptions): OpenApiFragment
  /**
   * Resolves once the rate-limit store can answer (a Redis client created from a URL is created
   * and connected), or after 2 seconds; rejects when `rateLimit.redis` is a URL and `ioredis` is
   * not installed. Requests before then are answered per `onStoreError`.
   */
  ready(): Promise<void>
  /** Releases what the guard created (a Redis client made from a URL); yours stay open. */
  close(): Promise<void>
}

/**
 * Creates the guard of an Express 5 app: the same guard as `@portcullis/fastify`, from the same
 * framework-free runtime, with the same options, errors, audit events and defaults. Options are
 * validated now: a bad one throws `PCL_INVALID_OPTIONS` naming it.
 *
 * @example
 * ```ts
 * const guard = createGuard({ tokens: { issuers: [...] }, rateLimit: { max: 600, timeWindow: '1 minute' } })
 * app.get('/v1/videos/:id', guard({ scopes: ['videos:read'], response: { allow: ['id', 'title'] } }), handler)
 * app.get('/healthz', guard({ public: 'liveness probe', response: { allow: ['ok'] } }), health)
 * guard.seal(app)
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/express.md
 */
export function createGuard(options: PortcullisExpressOptions): Guard {
  const runtime = createGuardRuntime(options)
  const inventory: InventoryEntry[] = []
  let queryToken = false
  const guard = function guard(routeGuard: DeclaredGuard): RequestHandler {
    if ((routeGuard as { queryToken?: unknown } | null)?.queryToken === true) queryToken = true
    return createGuardMiddleware(routeGuard, callSite(guard), runtime)
  } as Guard
  const metadata = runtime.options.resourceMetadata
  guard.seal = (app: Application) => {
    // RFC 9728: a public route like any other, declared last so that it is sealed with the rest.
    if (metadata !== undefined) {
      let document: ResourceMetadataDocument | undefined
      app.get(
        metadata.path,
        guard({ public: RESOURCE_METADATA_REASON, response: { allow: [...metadata.fields] } }),
        function portcullisResourceMetadata(_req, res) {
          document ??= metadata.document({ scopes: scopesInUse(guard.routes()), queryToken })
          res.set('cache-control', 'public, max-age=3600').json(document)
        },
      )
    }
    inventory.push(...sealApp(app, runtime))
  }
  guard.passThrough = passThrough
  guard.routes = () => Object.freeze([...inventory].sort(compareEntries))
  guard.openapi = (options?: OpenApiOptions) => openApiFragment(guard.routes(), options)
  guard.ready = runtime.ready
  guard.close = runtime.close
  return guard
}
