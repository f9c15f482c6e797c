import type { LimiterLog } from '../limiter/limit-outcomes.js'
import type { RedisClient } from '../options/rate-limit-options.js'
import type { Counter } from './counter.js'
import { createMemoryCounter } from './memory-counter.js'
import { createOwnedRedis, type OwnedRedis } from './owned-redis.js'
import { createRedisCounter } from './redis-counter.js'

/** Where an app's counts live, and the Redis client the guard owns, if it made one. */
export interface LimiterStore {
  readonly counter: Counter
  /**
   * Starts the store: creates and connects a client made from a URL (or connects an idle client
   * the application passed with `lazyConnect`), then waits at most `ms` for Redis. Resolves
   * `false` when Redis is not connected yet (hits fail per `onStoreError` until it is); rejects
   * when `redis` is a URL and `ioredis` is not installed.
   */
  start(ms: number): Promise<boolean>
  /** Releases what the store created (a client made from a URL); the application's stay open. */
  close(): Promise<void>
  /** The Redis client counts go to, once it exists; `null` for the memory store. */
  redisClient(): RedisClient | null
}

/** What a store is made from: the resolved `rateLimit` options. */
export interface StoreOptions {
  readonly redis: RedisClient | string | undefined
  readonly cache: number
  readonly storeTimeout: number
}

/**
 * Creates the one store of an app, the same for every adapter: an in-memory counter of at most
 * `cache` keys, or Redis (a client, or a URL the store connects and closes itself).
 */
export function createLimiterStore(options: StoreOptions, log: LimiterLog): LimiterStore {
  const { redis } = options
  if (redis === undefined) {
    const counter = createMemoryCounter(options.cache)
    return {
      counter,
      start: () => Promise.resolve(true),
      close: () => counter.close(),
      redisClient: () => null,
    }
  }
  if (typeof redis !== 'string') {
    const counter = createRedisCounter(redis, { timeout: options.storeTimeout })
    return {
      counter,
      start(ms) {
        if (redis.status === 'wait' && typeof redis.connect === 'function') {
          redis.connect().catch(() => undefined)
        }
        return counter.ready(ms)
      },
      close: () => counter.close(),
      redisClient: () => redis,
    }
  }
  let owned: Promise<OwnedRedis> | undefined
  let client: RedisClient | null = null
  const counter = createRedisCounter(() => client, {
    timeout: options.storeTimeout,
    async onClose() {
      const created = await owned?.catch(() => undefined)
      await created?.close()
    },
  })
  return {
    counter,
    async start(ms) {
      owned ??= createOwnedRedis(redis, log)
      const created = await owned
      client = created.client
      created.connect()
      return counter.ready(ms)
    },
    close: () => counter.close(),
    redisClient: () => client,
  }
}
