import { errorBodiesOnly } from '@portcullis/allowlist/internal'
import { type DeclaredGuard } from '@portcullis/core'
import type { DecisionContext } from '@portcullis/core/internal'
import type { InventoryEntry } from '@portcullis/policy'
import { compareEntries } from '@portcullis/policy/internal'
import { createAppLimits } from '@portcullis/rate-limit/internal'
import {
  createAuthentication,
  createAuthenticator,
  createVerifier,
} from '@portcullis/tokens/internal'
import type { Application, RequestHandler } from 'express'
import { callSite } from '../lib/call-site.js'
import { resolveOptions, type PortcullisExpressOptions } from '../options/index.js'
import { sealApp } from '../seal/index.js'
import { createGuardMiddleware, type GuardContext } from './guard-middleware.js'

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
   * Routes declared after `seal` are refused.
   */
  seal(app: Application): void
  /** The inventory of the sealed apps: every route, what it requires, sorted by URL. */
  routes(): readonly InventoryEntry[]
  /**
   * Resolves once the rate-limit store can answer (a Redis client created from a URL is created
   * and connected), or after 2 seconds; rejects when `rateLimit.redis` is a URL and `ioredis` is
   * not installed. Requests before then are answered per `onStoreError`.
   */
  ready(): Promise<void>
  /** Releases what the guard created (a Redis client made from a URL); yours stay open. */
  close(): Promise<void>
}

// How long `ready()` waits for Redis to connect: Redis starting beside the app is common.
const REDIS_READY_WAIT_MS = 2000

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
  const resolved = resolveOptions(options)
  const authenticator = createAuthenticator(createVerifier(resolved.tokens))
  const { log } = resolved
  const decision: DecisionContext = {
    realm: authenticator.verifier.realm,
    audit: resolved.audit,
    callbackTimeout: resolved.callbackTimeout,
  }
  const authenticate = createAuthentication({
    authenticator,
    preAuth: resolved.preAuth,
    reportOnly: resolved.reportOnly.tokens,
    decision,
    log,
  })

  const limits = resolved.rateLimit && createAppLimits(resolved.rateLimit, log)
  const store = limits?.store
  // Started now: a client made from a URL connects while the app declares its routes.
  const started = store?.start(REDIS_READY_WAIT_MS)
  started?.catch((err: unknown) =>
    log.error({ err }, 'portcullis: the rate-limit Redis client failed'),
  )

  const context: GuardContext = {
    options: resolved,
    authenticate,
    decision,
    log,
    limits,
    errorsOnly: errorBodiesOnly(),
  }
  const inventory: InventoryEntry[] = []

  const guard = function guard(routeGuard: DeclaredGuard): RequestHandler {
    return createGuardMiddleware(routeGuard, callSite(guard), context)
  } as Guard

  guard.seal = function seal(app: Application): void {
    inventory.push(
      ...sealApp(app, {
        authenticate,
        decision,
        log,
        unknownRoutes: resolved.unknownRoutes,
        reportOnly: resolved.reportOnly,
      }),
    )
  }
  guard.routes = () => Object.freeze([...inventory].sort(compareEntries))
  guard.ready = async () => {
    await started
  }
  guard.close = async () => {
    await started?.catch(() => undefined)
    await store?.close()
  }
  return guard
}
