import type { LimiterLog } from '../limiter/limit-outcomes.js'
import type { ResolvedRateLimitOptions } from '../options/index.js'
import { compileRouteLimit, type RouteLimitPlan } from '../route/index.js'
import { createLimiterStore, type LimiterStore } from '../store/index.js'
import { createBuckets, routeNamespace } from './route-plan.js'
import { createRouteLimiter, type Limit } from './route-limiter.js'

/** The rate limits of one app, the same for every adapter: its store, plans and limiters. */
export interface AppLimits {
  readonly store: LimiterStore
  /**
   * Plans a route's limit from its `guard.rateLimit` (or the default): throws a
   * `PortcullisConfigError` naming the route for an invalid limit, or a named bucket declared
   * with another limit elsewhere (one bucket is one count, so one limit).
   */
  plan(raw: unknown, route: { readonly label: string; readonly isPublic: boolean }): RouteLimitPlan
  /**
   * The limiter of a planned route, `null` for an exempt one. `route` is the route's URL template
   * as audit events name it; its counts live under `countsAt` (the template with the route's
   * constraints, by default the template) unless it names a bucket.
   */
  limiter(
    plan: RouteLimitPlan,
    route: { readonly route: string; readonly countsAt?: string; readonly reportOnly: boolean },
  ): Limit | null
}

/** Creates the rate limits of one app from its resolved `rateLimit` options. */
export function createAppLimits(options: ResolvedRateLimitOptions, log: LimiterLog): AppLimits {
  const store = createLimiterStore(options, log)
  const context = {
    counter: store.counter,
    decision: { realm: options.realm, audit: options.audit },
    headers: options.headers,
    onStoreError: options.onStoreError,
    health: { down: false },
  }
  const checkBucket = createBuckets()
  return {
    store,
    plan(raw, route) {
      const plan = compileRouteLimit(raw, route, options.defaults)
      const conflict = checkBucket(route.label, plan)
      if (conflict !== null) throw conflict
      return plan
    },
    limiter(plan, route) {
      if (plan.kind === 'exempt') return null
      const namespace = routeNamespace(route.countsAt ?? route.route, plan.spec.bucket)
      return createRouteLimiter(
        plan.spec,
        { route: route.route, namespace, reportOnly: route.reportOnly },
        context,
      )
    },
  }
}
