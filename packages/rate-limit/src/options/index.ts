export {
  MAX_CACHE,
  preAuthSchema,
  rateLimitDefaults,
  rateLimitOptionsSchema,
} from './options-schema.js'
export {
  resolveRateLimitOptions,
  type HeaderNames,
  type ResolvedRateLimitOptions,
} from './resolve-options.js'
export type {
  PreAuthOptions,
  RateLimitKey,
  RateLimitKeyFunction,
  RateLimitRequest,
  RateLimitOptions,
  RateLimitPluginOptions,
  RedisClient,
} from './rate-limit-options.js'
