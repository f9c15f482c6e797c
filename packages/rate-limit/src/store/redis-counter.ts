import RedisStore from '@fastify/rate-limit/store/RedisStore.js'
import { createRedisGate, type RedisGate } from '@portcullis/core/internal'
import type { RedisClient } from '../options/rate-limit-options.js'
import type { Count, Counter, CountCallback } from './counter.js'

/** Prefix of every key the limiter writes to Redis. */
export const REDIS_KEY_PREFIX = 'portcullis:rl:'

/** Options of {@link createRedisCounter}. */
export interface RedisCounterOptions {
  /** Milliseconds after which a command that has not answered counts as failed. */
  readonly timeout: number
  /** Called when the counter is closed (to close a client the guard created). */
  readonly onClose?: () => Promise<void>
}

interface Bound {
  readonly client: RedisClient
  readonly store: RedisStore
  readonly gate: RedisGate
}

/**
 * A counter shared by every instance on one Redis: `@fastify/rate-limit`'s `RedisStore` (one
 * Lua script per hit: INCR, PEXPIRE on a window's first hit, PTTL), each hit under the shared
 * Redis deadline (`createRedisGate`: no queueing while disconnected, at most one probe per
 * timeout while Redis stalls). `client` may be a function returning `null` until a client
 * created from a URL exists; hits fail until then.
 */
export function createRedisCounter(
  client: RedisClient | (() => RedisClient | null),
  options: RedisCounterOptions,
): Counter {
  const { timeout } = options
  const clientOf = typeof client === 'function' ? client : () => client
  let bound: Bound | undefined
  let closed = false

  function bind(): Bound | null {
    const current = clientOf()
    if (current === null) return null
    if (bound?.client !== current) {
      bound = {
        client: current,
        store: new RedisStore(false, false, current, REDIS_KEY_PREFIX),
        gate: createRedisGate(current, timeout),
      }
    }
    return bound
  }

  function hit(key: string, timeWindow: number, max: number, callback: CountCallback): void {
    const target = bind()
    if (target === null) {
      callback(new Error('redis client not created yet'), null)
      return
    }
    const { store, gate } = target
    gate
      .run(
        () =>
          new Promise<Count>((resolve, reject) => {
            store.incr(
              key,
              // RedisStore answers (err, null) or (null, count).
              (err, count) =>
                count === null ? reject(err ?? new Error('redis: no count')) : resolve(count),
              timeWindow,
              max,
            )
          }),
      )
      .then(
        (count) => callback(null, count),
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
      )
  }

  function ready(ms: number): Promise<boolean> {
    const current = clientOf()
    if (current === null) return Promise.resolve(false)
    if (current.status === 'ready') return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), ms)
      function onReady(): void {
        finish(true)
      }
      function finish(ok: boolean): void {
        clearTimeout(timer)
        current!.removeListener('ready', onReady)
        resolve(ok)
      }
      current.once('ready', onReady)
    })
  }

  return Object.freeze({
    kind: 'redis' as const,
    hit,
    hitNow: null,
    size: () => null,
    ready,
    async close() {
      if (closed) return
      closed = true
      await options.onClose?.()
    },
  })
}
