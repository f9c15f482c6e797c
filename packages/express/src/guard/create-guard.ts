import { compileAllowlist } from '@portcullis/allowlist'
import { PortcullisConfigError, type RouteGuard } from '@portcullis/core'
import { compareEntries, type InventoryEntry } from '@portcullis/policy'
import { createOwnedRedis, type LimiterLog, type OwnedRedis } from '@portcullis/rate-limit'
import { createAuthenticator, createVerifier } from '@portcullis/tokens'
import type { Application, RequestHandler } from 'express'
import { callSite } from '../lib/call-site.js'
import type { DecisionContext } from '../lib/decision.js'
import { resolveOptions, type PortcullisExpressOptions } from '../options/index.js'
import {
  isCallable,
  memoryStores,
  redisStores,
  type CallableRedis,
  type LimiterRuntime,
} from '../rate-limit/index.js'
import { sealApp } from '../seal/index.js'
import type { Authentication } from './authenticate.js'
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
  (routeGuard: RouteGuard): RequestHandler
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

function waitReady(client: CallableRedis, ms: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(finish, ms)
    function finish(): void {
      clearTimeout(timer)
      client.removeListener('ready', finish)
      resolve()
    }
    client.once('ready', finish)
  })
}

/**
 * Creates the guard of an Express 5 app: the same guard as `@portcullis/fastify`, from the same
 * framework-free core, with the same options, errors, audit events and defaults. Options are
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
    log,
  }
  const auth: Authentication = {
    authenticator,
    preAuth: resolved.preAuth,
    reportOnly: resolved.reportOnly.tokens,
    decision,
  }

  const limiterLog: LimiterLog = {
    info: (message) => log.info({}, message),
    warn: (fields, message) => log.warn(fields, message),
    error: (fields, message) => log.error(fields, message),
  }
  let owned: Promise<OwnedRedis> | undefined
  let redis: CallableRedis | null = null
  let limits: LimiterRuntime | undefined
  const limitOptions = resolved.rateLimit
  if (limitOptions !== undefined) {
    const client = limitOptions.redis
    if (client !== undefined && typeof client !== 'string' && !isCallable(client)) {
      throw new PortcullisConfigError(
        'PCL_INVALID_OPTIONS',
        'portcullis options: rateLimit.redis: must be an ioredis client (it sends commands with call())',
        { field: 'rateLimit.redis' },
      )
    }
    if (typeof client === 'string') {
      owned = createOwnedRedis(client, limiterLog)
      void owned.then(
        (created) => {
          redis = created.client as CallableRedis
          created.connect()
        },
        (err: unknown) => log.error({ err }, 'portcullis: the rate-limit Redis client failed'),
      )
    } else if (client !== undefined) {
      redis = client
    }
    limits = {
      options: limitOptions,
      stores:
        client === undefined
          ? memoryStores(limitOptions.cache)
          : redisStores(() => redis, limitOptions.storeTimeout),
      health: { down: false },
      decision,
      log: limiterLog,
    }
  }

  const context: GuardContext = {
    options: resolved,
    auth,
    decision,
    limits,
    errorsOnly: compileAllowlist({ allow: [] }, { route: 'error bodies' }),
    buckets: new Map(),
  }
  const inventory: InventoryEntry[] = []

  const guard = function guard(routeGuard: RouteGuard): RequestHandler {
    return createGuardMiddleware(routeGuard, callSite(guard), context)
  } as Guard

  guard.seal = function seal(app: Application): void {
    inventory.push(
      ...sealApp(app, {
        auth,
        unknownRoutes: resolved.unknownRoutes,
        reportOnly: resolved.reportOnly.policy,
      }),
    )
    // A client the application passed in with lazyConnect starts connecting here, as on Fastify.
    if (redis !== null && owned === undefined && redis.status === 'wait') {
      redis.connect?.().catch(() => undefined)
    }
  }
  guard.routes = () => Object.freeze([...inventory].sort(compareEntries))
  guard.ready = async () => {
    if (owned !== undefined) await owned
    if (redis !== null) await waitReady(redis, REDIS_READY_WAIT_MS)
  }
  guard.close = async () => {
    if (owned === undefined) return
    const created = await owned.catch(() => undefined)
    await created?.close()
  }
  return guard
}
