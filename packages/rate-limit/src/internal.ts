/**
 * `@portcullis/rate-limit/internal`: the limiter step of the shared runtime and the one store of
 * an app, for Portcullis's own adapters and plugins. It follows their versions, not semver, and
 * its exports may change in any release.
 *
 * @internal
 * @packageDocumentation
 */
export {
  createRouteLimiter,
  type LimitedRoute,
  type Limit,
  type LimiterContext,
} from './runtime/route-limiter.js'
export { createLimiterStore, type LimiterStore, type StoreOptions } from './store/index.js'
export {
  compileRouteLimit,
  limitExposure,
  limitSignature,
  type RouteLimitPlan,
} from './route/index.js'
export { createMemoryCounter, type Counter } from './store/index.js'
export { ipKey, type LimitSpec } from './limiter/index.js'
export {
  rateLimitOptionsSchema,
  resolveRateLimitOptions,
  type HeaderNames,
  type ResolvedRateLimitOptions,
} from './options/index.js'
export { createPreAuthLimiter, preAuthOf, withoutPreAuth } from './pre-auth/index.js'
export { createBuckets, routeNamespace } from './runtime/route-plan.js'
export { createAppLimits, type AppLimits } from './runtime/app-limits.js'
