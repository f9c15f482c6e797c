import type { RouteRateLimit } from '../route/index.js'

declare module '@portcullis/core' {
  interface RouteGuard {
    /**
     * This route's rate limit, replacing the plugin's default: `{ max, timeWindow, key?,
     * bucket?, overrides? }`, or `{ exempt: '<reason>' }` (shown in the inventory). Needs
     * `@portcullis/rate-limit`.
     */
    rateLimit?: RouteRateLimit
  }
}
