import type { DenialWatch } from '@portcullis/core/internal'
import {
  createMemoryEgressStore,
  createRedisEgressStore,
  type EgressStore,
} from '../egress/egress-store.js'
import {
  createLockout,
  createRouteEgress,
  type EgressContext,
  type RouteEgress,
} from '../egress/egress-steps.js'
import {
  createBudgetNames,
  planEgress,
  type EgressGuard,
  type EgressPlan,
} from '../egress/plan-egress.js'
import type { LimiterLog } from '../limiter/limit-outcomes.js'
import type { ResolvedRateLimitOptions } from '../options/index.js'
import { compileRouteLimit, type RouteLimitPlan } from '../route/index.js'
import { createLimiterStore, type LimiterStore } from '../store/index.js'
import { createBuckets, routeNamespace } from './route-plan.js'
import { createRouteLimiter, type Limit } from './route-limiter.js'

/** The rate limits of one app, the same for every adapter: its store, plans and limiters. */
export interface AppLimits {
  readonly store: LimiterStore
  /** Where budgets, enumeration sets and lockouts live (the counts' memory or Redis). */
  readonly egressStore: EgressStore
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
  /**
   * Plans a route's `guard.budget` and `guard.enumeration`: throws a `PortcullisConfigError`
   * naming the route for an invalid one, or a named budget declared with another limit.
   */
  planEgress(
    guard: EgressGuard,
    route: { readonly label: string; readonly isPublic: boolean },
  ): EgressPlan
  /** The egress steps of a planned route: before its handler, and its body meter. */
  egress(
    plan: EgressPlan,
    route: { readonly route: string; readonly countsAt?: string; readonly reportOnly: boolean },
  ): RouteEgress
  /** The denial-burst lockout for a guarded route, `null` when `lockout` is off. */
  lockout(reportOnly: boolean): DenialWatch | null
}

/** Creates the rate limits of one app from its resolved `rateLimit` options. */
export function createAppLimits(options: ResolvedRateLimitOptions, log: LimiterLog): AppLimits {
  const store = createLimiterStore(options, log)
  const context = {
    counter: store.counter,
    decision: { realm: options.realm, audit: options.audit, telemetry: options.telemetry },
    headers: options.headers,
    onStoreError: options.onStoreError,
    health: { down: false },
  }
  const egressStore =
    options.redis === undefined
      ? createMemoryEgressStore(options.cache)
      : createRedisEgressStore(() => store.redisClient(), options.storeTimeout)
  const egressContext: EgressContext = {
    store: egressStore,
    decision: context.decision,
    headers: options.headers,
    onStoreError: options.onStoreError,
    health: { down: false },
    log,
  }
  const checkBucket = createBuckets()
  const checkBudgetName = createBudgetNames()
  const lockout = options.lockout === null ? null : createLockout(options.lockout, egressContext)
  return {
    store,
    egressStore,
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
    planEgress(guard, route) {
      const plan = planEgress(guard, { ...route, defaultKey: options.defaults.key })
      const conflict = checkBudgetName(route.label, plan)
      if (conflict !== null) throw conflict
      return plan
    },
    egress(plan, route) {
      return createRouteEgress(
        plan,
        {
          route: route.route,
          countsAt: route.countsAt ?? route.route,
          reportOnly: route.reportOnly,
        },
        egressContext,
      )
    },
    lockout: (reportOnly) => lockout?.(reportOnly) ?? null,
  }
}
