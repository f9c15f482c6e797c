import { isPortcullisConfigError, PortcullisConfigError } from '@portcullis/core'
import { routeStateOf, type RouteState } from '@portcullis/policy/internal'
import { registerOnce } from '@portcullis/tokens/internal'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import {
  resolveRateLimitOptions,
  type RateLimitPluginOptions,
  type ResolvedRateLimitOptions,
} from '../options/index.js'
import { limitExposure, type RouteLimitPlan } from '../route/index.js'
import { createAppLimits } from '../runtime/app-limits.js'

// How long startup waits for Redis to connect before serving anyway (refusing or serving
// unlimited, per onStoreError, until it connects): Redis starting beside the app is common.
const REDIS_READY_WAIT_MS = 2000

type Compilation = RouteLimitPlan | PortcullisConfigError

function portcullisRateLimitPlugin(
  fastify: FastifyInstance,
  options: RateLimitPluginOptions,
  next: (err?: Error) => void,
): void {
  const twice = registerOnce(fastify, '@portcullis/rate-limit')
  if (twice !== null) {
    next(twice)
    return
  }
  let resolved: ResolvedRateLimitOptions
  try {
    resolved = resolveRateLimitOptions(options)
  } catch (err) {
    next(err as Error)
    return
  }
  const limits = createAppLimits(resolved, fastify.log)
  const { store } = limits
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
      result = limits.plan(raw, { label: state.label, isPublic })
    } catch (err) {
      if (!isPortcullisConfigError(err)) throw err
      result = err
    }
    compilations.set(template, { raw, isPublic, result })
    return result
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
    state.annotate('rateLimit', result.summary, limitExposure(result))
    const limit = limits.limiter(result, {
      route: state.url,
      countsAt: state.label.slice(state.label.indexOf(' ') + 1),
      reportOnly: compiled.reportOnly,
    })
    // Run by the guard's own hook, once its decision allows: before any application hook.
    if (limit !== null) state.addStep(limit)
    const guard = compiled.guard
    if (!isPublic) {
      const watch = limits.lockout(compiled.reportOnly)
      if (watch !== null) state.watchDenials(watch)
    }
    if (guard.budget === undefined && guard.enumeration === undefined) return
    let egress
    try {
      egress = limits.planEgress(guard, { label: state.label, isPublic })
    } catch (err) {
      if (!isPortcullisConfigError(err)) throw err
      state.reportError(err)
      return
    }
    if (egress.budgetSummary !== null) state.annotate('budget', egress.budgetSummary)
    if (egress.enumerationSummary !== null) {
      state.annotate('enumeration', egress.enumerationSummary)
    }
    // After the rate limit; the meter charges what the allowlist plugin lets out.
    const steps = limits.egress(egress, {
      route: state.url,
      countsAt: state.label.slice(state.label.indexOf(' ') + 1),
      reportOnly: compiled.reportOnly,
    })
    for (const step of steps.steps) state.addStep(step)
    if (steps.meter !== null) state.addMeter(steps.meter)
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
    if (store.counter.kind === 'redis' && !(await store.start(REDIS_READY_WAIT_MS))) {
      fastify.log.warn(
        { code: 'PCL_STORE_UNAVAILABLE' },
        `portcullis: rate-limit Redis is not connected yet; limited routes answer per onStoreError (${resolved.onStoreError}) until it is`,
      )
    }
  })

  fastify.addHook('onClose', async function portcullisRateLimitClose() {
    limits.egressStore.clear()
    await store.close()
  })
  next()
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
