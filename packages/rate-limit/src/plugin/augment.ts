import type { RateLimitOptions } from '../options/index.js'
import type { RouteBudget, RouteEnumeration } from '../egress/egress-options.js'
import type { RouteRateLimit } from '../route/index.js'

declare module '@portcullis/core' {
  interface GuardOptions {
    /**
     * Rate limits keyed by the verified principal, per route template; `guard.rateLimit`
     * overrides per route. `preAuth` (on by default) throttles failed authentications per
     * address before any signature work. Without this option no limit applies, and a route that
     * declares `guard.rateLimit` fails startup. See `@portcullis/rate-limit`.
     */
    rateLimit?: RateLimitOptions
  }
  interface RouteGuard {
    /**
     * This route's rate limit, replacing the plugin's default: `{ max, timeWindow, key?,
     * bucket?, overrides? }`, or `{ exempt: '<reason>' }` (shown in the inventory). Needs
     * `@portcullis/rate-limit`.
     */
    rateLimit?: RouteRateLimit
    /**
     * An egress budget: how many items (or bytes) of what this route lets out one principal may
     * take per window, on its own or shared by name with other routes; 429
     * `PCL_BUDGET_EXHAUSTED` once spent. Needs `rateLimit` (its store). See {@link RouteBudget}.
     */
    budget?: RouteBudget
    /**
     * An enumeration limit: how many distinct values of a route or query parameter one principal
     * may touch per window; 429 `PCL_ENUMERATION` past it. Needs `rateLimit` (its store). See
     * {@link RouteEnumeration}.
     */
    enumeration?: RouteEnumeration
  }
}
