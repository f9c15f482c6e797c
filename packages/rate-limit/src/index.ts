/**
 * `@portcullis/rate-limit`: rate limits keyed by the verified principal, per route template or
 * named bucket, on `@fastify/rate-limit`'s in-memory or Redis store, and the pre-auth limiter
 * that throttles failed authentications before any signature work.
 *
 * @packageDocumentation
 */
import './plugin/augment.js'

export {
  type PreAuthOptions,
  type RateLimitKey,
  type RateLimitKeyFunction,
  type RateLimitOptions,
  type RateLimitPluginOptions,
  type RateLimitRequest,
  type RedisClient,
} from './options/index.js'
export type { LockoutOptions, RouteBudget, RouteEnumeration } from './egress/egress-options.js'
export { rateLimitPlugin } from './plugin/index.js'
export { createPreAuthLimiter } from './pre-auth/index.js'
export type { RateLimitOverride, RouteLimit, RouteRateLimit } from './route/index.js'
export { REDIS_KEY_PREFIX } from './store/index.js'
