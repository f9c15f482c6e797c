export {
  compileRouteLimit,
  limitExposure,
  limitSignature,
  summarizeLimit,
  type RouteLimitPlan,
  type RouteSite,
} from './compile-route-limit.js'
export type { RateLimitOverride, RouteLimit, RouteRateLimit } from './route-rate-limit.js'
