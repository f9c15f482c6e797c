import {
  createMemoryCounter,
  REDIS_KEY_PREFIX,
  type Counter,
  type RedisClient,
} from '@portcullis/rate-limit'
import type { IncrementResponse, Options, Store } from 'express-rate-limit'
import { RedisStore, type RedisReply } from 'rate-limit-redis'

/**
 * Where counts live. express-rate-limit wants one store object per limiter (it refuses to share
 * one), so each route gets its own, all of them over one home: one bounded in-memory map, or one
 * Redis. Keys carry the route's namespace, so routes never share a count unless they share a
 * bucket.
 */
export interface Stores {
  readonly kind: 'memory' | 'redis'
  create(): Store
}

// The in-memory counter of the Fastify plugin (`@fastify/rate-limit`'s LocalStore): fixed
// windows in one LRU map of at most `cache` keys, so memory stays bounded whatever the number
// of principals, addresses or routes. Its callback runs synchronously.
class CounterStore implements Store {
  // Limiters share the counter (a bucket is one count across routes): keys are not local.
  readonly localKeys = false
  private windowMs = 0

  constructor(private readonly counter: Counter) {}

  init(options: Options): void {
    this.windowMs = options.windowMs
  }

  increment(key: string): IncrementResponse {
    let answer: IncrementResponse | undefined
    let failure: Error | null = null
    // `max` only matters to exponential backoff, which is off: windows are plain fixed windows.
    this.counter.hit(key, this.windowMs, Number.MAX_SAFE_INTEGER, (err, count) => {
      if (count === null) failure = err ?? new Error('the in-memory counter failed')
      else answer = { totalHits: count.current, resetTime: new Date(Date.now() + count.ttl) }
    })
    if (answer === undefined) throw failure ?? new Error('the in-memory counter did not answer')
    return answer
  }

  // Only called with skipFailedRequests or skipSuccessfulRequests, which the guard never sets.
  decrement(): void {}

  resetKey(): void {}
}

/** One in-memory counter of at most `cache` keys for every route. */
export function memoryStores(cache: number): Stores & { readonly counter: Counter } {
  const counter = createMemoryCounter(cache)
  return { kind: 'memory', counter, create: () => new CounterStore(counter) }
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
