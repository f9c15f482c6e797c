import {
  createMemoryCounter,
  REDIS_KEY_PREFIX,
  type Counter,
  type RedisClient,
} from '@portcullis/rate-limit'
import type { IncrementResponse, Options, Store } from 'express-rate-limit'
import { RedisStore, type RedisReply } from 'rate-limit-redis'

/**
 * Where counts live: one bounded in-memory counter (the Fastify plugin's, `@fastify/rate-limit`'s
 * LocalStore: fixed windows in one LRU map of at most `cache` keys, so memory stays bounded
 * whatever the number of principals, addresses or routes), which limiters call directly; or one
 * Redis, through express-rate-limit, which wants one store object per limiter (it refuses to
 * share one). Keys carry the route's namespace, so routes never share a count unless they share
 * a bucket.
 */
export type Stores =
  | { readonly kind: 'memory'; readonly counter: Counter }
  | { readonly kind: 'redis'; create(): Store }

/** One in-memory counter of at most `cache` keys for every route. */
export function memoryStores(cache: number): Stores {
  return { kind: 'memory', counter: createMemoryCounter(cache) }
}

/** An ioredis client (`Redis` or `Cluster`): what `rate-limit-redis` sends its commands with. */
export type CallableRedis = RedisClient & {
  call(command: string, ...args: (string | number)[]): Promise<unknown>
}

/** True when `client` can send raw commands (ioredis's `call`). */
export function isCallable(client: RedisClient): client is CallableRedis {
  return typeof (client as { call?: unknown }).call === 'function'
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms)
    void work.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err instanceof Error ? err : new Error(String(err)))
      },
    )
  })
}

// `rate-limit-redis` (one Lua script per hit: SET with PX on a window's first hit, INCR after),
// with what the guard needs around it: a deadline per command, an immediate failure while the
// client is not connected (ioredis would queue every request of an outage and answer it late),
// and scripts loaded on first use and loaded again after a failed load, so a Redis that was down
// at startup does not break the store for good.
class GuardRedisStore implements Store {
  readonly localKeys = false
  readonly prefix = REDIS_KEY_PREFIX
  private readonly inner: RedisStore
  private options: Options | undefined
  private loading: Promise<void> | undefined

  constructor(
    private readonly client: () => CallableRedis | null,
    private readonly timeout: number,
  ) {
    this.inner = new RedisStore({
      prefix: REDIS_KEY_PREFIX,
      sendCommand: (command: string, ...args: string[]) => {
        const redis = this.client()
        if (redis === null) return Promise.reject(new Error('redis client not created yet'))
        return redis.call(command, ...args) as Promise<RedisReply>
      },
    })
  }

  init(options: Options): void {
    this.options = options
  }

  increment(key: string): Promise<IncrementResponse> {
    const redis = this.client()
    if (redis === null || redis.status !== 'ready') {
      return Promise.reject(new Error(`redis connection is ${redis?.status ?? 'not created'}`))
    }
    return withDeadline(this.count(key), this.timeout)
  }

  private async count(key: string): Promise<IncrementResponse> {
    this.loading ??= this.inner.init(this.options!).catch((err: unknown) => {
      this.loading = undefined
      throw err
    })
    await this.loading
    return this.inner.increment(key)
  }

  decrement(key: string): Promise<void> {
    return this.inner.decrement(key)
  }

  resetKey(key: string): Promise<void> {
    return this.inner.resetKey(key)
  }
}

/**
 * Stores in Redis, shared by every instance: the same keys as the Fastify plugin
 * (`portcullis:rl:` and the route's namespace), so services on either framework that share a
 * bucket share its count. `client` returns `null` until a client created from a URL exists.
 */
export function redisStores(client: () => CallableRedis | null, timeout: number): Stores {
  return { kind: 'redis', create: () => new GuardRedisStore(client, timeout) }
}
