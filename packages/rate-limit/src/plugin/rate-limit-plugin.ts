import { isPortcullisConfigError, PortcullisConfigError } from '@portcullis/core'
import { routeStateOf, type RouteState } from '@portcullis/policy'
import type { FastifyInstance, onRequestHookHandler, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { resolveRateLimitOptions, type RateLimitPluginOptions } from '../options/index.js'
import { compileRouteLimit, limitSignature, type RouteLimitPlan } from '../route/index.js'
import {
  createMemoryCounter,
  createOwnedRedis,
  createRedisCounter,
  type Counter,
  type OwnedRedis,
} from '../store/index.js'
import { limiterHook, type LimiterContext } from './limiter-hook.js'

// How long startup waits for Redis to connect before serving anyway (refusing or serving
// unlimited, per onStoreError, until it connects): Redis starting beside the app is common.
const REDIS_READY_WAIT_MS = 2000

type Compilation = RouteLimitPlan | PortcullisConfigError

function appendHook(routeOptions: RouteOptions, hook: onRequestHookHandler): void {
  const existing = routeOptions.onRequest
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]
  // A new array: the HEAD route Fastify adds for a GET starts from the same options.
  routeOptions.onRequest = [...list, hook]
}

/** Where a route's keys live: `r\0GET /url\0` per method (HEAD counted as GET), or a bucket. */
function namespacesOf(state: RouteState, bucket: string | null): Record<string, string> {
  const namespaces: Record<string, string> = Object.create(null) as Record<string, string>
  // The label's part after the methods: the URL template and any constraints.
  const template = state.label.slice(state.label.indexOf(' '))
  for (const method of state.methods) {
    if (bucket !== null) {
      namespaces[method] = `b\0${bucket}\0`
      continue
    }
    const counted = method === 'HEAD' ? 'GET' : method
    namespaces[method] = `r\0${counted}${template}\0`
  }
  return namespaces
}

async function portcullisRateLimitPlugin(
  fastify: FastifyInstance,
  options: RateLimitPluginOptions,
): Promise<void> {
  const resolved = resolveRateLimitOptions(options)
  let owned: OwnedRedis | undefined
  let counter: Counter
  if (typeof resolved.redis === 'string') {
    const created = await createOwnedRedis(resolved.redis, fastify.log)
    owned = created
    counter = createRedisCounter(created.client, {
      timeout: resolved.storeTimeout,
      onClose: () => created.close(),
    })
  } else if (resolved.redis !== undefined) {
    counter = createRedisCounter(resolved.redis, { timeout: resolved.storeTimeout })
  } else {
    counter = createMemoryCounter(resolved.cache)
  }
  const context: LimiterContext = {
    counter,
    decision: { realm: resolved.realm, audit: resolved.audit },
    headers: resolved.headers,
    onStoreError: resolved.onStoreError,
    health: { down: false },
  }

  const buckets = new Map<string, { signature: string; label: string }>()
  // The HEAD route Fastify adds for a GET arrives right after it with the same guard: compile
  // once per template and declaration, so an invalid limit is reported once, under the GET.
  const compilations = new Map<string, { raw: unknown; isPublic: boolean; result: Compilation }>()

  function compile(state: RouteState, raw: unknown, isPublic: boolean): Compilation {
    const template = state.label.slice(state.label.indexOf(' '))
    const cached = compilations.get(template)
    if (cached !== undefined && cached.raw === raw && cached.isPublic === isPublic) {
      return cached.result
    }
    let result: Compilation
    try {
      result = compileRouteLimit(raw, { label: state.label, isPublic }, resolved.defaults)
      if (result.kind === 'limit' && result.spec.bucket !== null) {
        result = checkBucket(state.label, result)
      }
    } catch (err) {
      if (!isPortcullisConfigError(err)) throw err
      result = err
    }
    compilations.set(template, { raw, isPublic, result })
    return result
  }

  function checkBucket(label: string, plan: RouteLimitPlan & { kind: 'limit' }): Compilation {
    const bucket = plan.spec.bucket ?? ''
    const signature = limitSignature(plan.spec)
    const first = buckets.get(bucket)
    if (first === undefined) {
      buckets.set(bucket, { signature, label })
      return plan
    }
    if (first.signature === signature) return plan
    // One bucket is one count: two limits on it would make each route's limit a lie.
    return new PortcullisConfigError(
      'PCL_INVALID_GUARD',
      `${label}: guard.rateLimit.bucket '${bucket}' is declared with another limit by ${first.label}: routes sharing a bucket must declare the same max, timeWindow, key and overrides`,
      { route: label, field: 'guard.rateLimit.bucket' },
    )
  }

  fastify.addHook('onRoute', function portcullisRateLimitRoute(routeOptions) {
    const state = routeStateOf(routeOptions)
    if (state === undefined) {
      // Only possible when the policy plugin does not reach this context: refuse to leave the
      // route unlimited silently.
      throw new PortcullisConfigError(
        'PCL_INVALID_OPTIONS',
        `${String(routeOptions.method)} ${routeOptions.url}: @portcullis/policy did not compile this route, so it cannot be rate limited: register @portcullis/policy before @portcullis/rate-limit, in the same or a parent context`,
        { field: 'rateLimit' },
      )
    }
    const compiled = state.compiled
    // An unguarded route (or one whose guard is invalid) is refused by the policy plugin.
    if (compiled === null) return
    const isPublic = compiled.public !== null
    const result = compile(state, compiled.guard.rateLimit, isPublic)
    if (isPortcullisConfigError(result)) {
      state.reportError(result)
      return
    }
    state.annotate('rateLimit', result.summary)
    if (result.kind === 'exempt') return
    appendHook(
      routeOptions,
      limiterHook(
        result.spec,
        {
          url: state.url,
          namespaces: namespacesOf(state, result.spec.bucket),
          reportOnly: compiled.reportOnly,
        },
        context,
      ),
    )
  })

  fastify.addHook('onReady', async function portcullisRateLimitReady() {
    // Every guarded route the policy plugin compiled must have passed through our onRoute hook:
    // routes declared between the two plugins would otherwise be served without a limit.
    const missed = fastify.portcullis
      .routes()
      .filter((entry) => entry.guarded && entry.rateLimit === null)
      .map((entry) => `${entry.method} ${entry.url}`)
    if (missed.length > 0) {
      throw new PortcullisConfigError(
        'PCL_UNGUARDED_ROUTE',
        [
          `${missed.length} route${missed.length === 1 ? ' is' : 's are'} not rate limited (declared before @portcullis/rate-limit was registered):`,
          ...missed.map((route) => `  - ${route}`),
          'Register @portcullis/rate-limit with `await app.register(...)` right after @portcullis/policy, before declaring routes (@portcullis/fastify does).',
        ].join('\n'),
        { routes: missed },
      )
    }
    if (counter.kind === 'redis') {
      owned?.connect()
      const client = resolved.redis
      if (
        owned === undefined &&
        typeof client === 'object' &&
        client.status === 'wait' &&
        typeof client.connect === 'function'
      ) {
        client.connect().catch(() => undefined)
      }
      if (!(await counter.ready(REDIS_READY_WAIT_MS))) {
        fastify.log.warn(
          { code: 'PCL_STORE_UNAVAILABLE' },
          `portcullis: rate-limit Redis is not connected yet; limited routes answer per onStoreError (${resolved.onStoreError}) until it is`,
        )
      }
    }
  })

  fastify.addHook('onClose', async function portcullisRateLimitClose() {
    await counter.close()
  })
}

/**
 * The rate-limit plugin: counts each authorised request against its verified principal (or
 * client, IP, or a key function), per route template or named bucket, on `@fastify/rate-limit`'s
 * in-memory or Redis store. Limits come from `guard.rateLimit` or the plugin's default; a 429 is
 * problem+json with `Retry-After`. Register it after `@portcullis/tokens` and
 * `@portcullis/policy`, before declaring routes; `@portcullis/fastify` does.
 *
 * @example
 * ```ts
 * await app.register(tokensPlugin, { issuers, preAuth: createPreAuthLimiter({ max: 20, timeWindow: '1 minute' }) })
 * await app.register(policyPlugin)
 * await app.register(rateLimitPlugin, { max: 600, timeWindow: '1 minute', redis: process.env.REDIS_URL })
 * ```
 * @see https://github.com/portcullis-dev/portcullis/tree/main/packages/rate-limit#readme
 */
export const rateLimitPlugin = fp(portcullisRateLimitPlugin, {
  fastify: '5.x',
  name: '@portcullis/rate-limit',
  dependencies: ['@portcullis/policy'],
})
