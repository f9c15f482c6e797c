export type { Count, CountCallback, Counter } from './counter.js'
export { createMemoryCounter } from './memory-counter.js'
export { createOwnedRedis, type OwnedRedis } from './owned-redis.js'
export { createRedisCounter, REDIS_KEY_PREFIX, type RedisCounterOptions } from './redis-counter.js'
