/**
 * `@portcullis/rate-limit`: rate limits keyed by the verified principal, per route template or
 * named bucket, on `@fastify/rate-limit`'s in-memory or Redis store, and the pre-auth limiter
 * that throttles failed authentications before any signature work.
 *
 * @packageDocumentation
 */
import './plugin/augment.js'

export {
  rateLimitOptionsSchema,
  resolveRateLimitOptions,
  type HeaderNames,
  type PreAuthOptions,
  type RateLimitKey,
  type RateLimitKeyFunction,
  type RateLimitOptions,
  type RateLimitPluginOptions,
  type RateLimitRequest,
  type RedisClient,
  type ResolvedRateLimitOptions,
} from './options/index.js'
export { rateLimitPlugin } from './plugin/index.js'
export { createPreAuthLimiter } from './pre-auth/index.js'
// The framework-free pieces of the limiter, for adapters other than the Fastify plugin (the
// Express adapter): the same options, route limits, keys, outcomes and stores, so both count
// and answer alike.
export {
  compileRouteLimit,
  limitSignature,
  summarizeLimit,
  type RateLimitOverride,
  type RouteLimit,
  type RouteLimitPlan,
  type RouteRateLimit,
  type RouteSite,
} from './route/index.js'
export {
  ipKey,
  keyFailure,
  keyOf,
  limitHeaders,
  maxOf,
  rateLimited,
  storeAnswered,
  storeFailure,
  type KeyedRequest,
  type KeyOf,
  type LimiterLog,
  type LimitSpec,
  type ResolvedOverride,
  type StoreHealth,
} from './limiter/index.js'
export {
  createMemoryCounter,
  createOwnedRedis,
  REDIS_KEY_PREFIX,
  type Count,
  type Counter,
  type OwnedRedis,
} from './store/index.js'
