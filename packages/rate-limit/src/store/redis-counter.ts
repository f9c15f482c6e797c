import RedisStore from '@fastify/rate-limit/store/RedisStore.js'
import type { RedisClient } from '../options/rate-limit-options.js'
import type { Counter, CountCallback } from './counter.js'

/** Prefix of every key the limiter writes to Redis. */
export const REDIS_KEY_PREFIX = 'portcullis:rl:'

/** Options of {@link createRedisCounter}. */
export interface RedisCounterOptions {
  /** Milliseconds after which a command that has not answered counts as failed. */
  readonly timeout: number
  /** Called when the counter is closed (to close a client the plugin created). */
  readonly onClose?: () => Promise<void>
}

/**
 * A counter shared by every instance on one Redis: `@fastify/rate-limit`'s `RedisStore` (one
 * Lua script per hit: INCR, PEXPIRE on a window's first hit, PTTL), with a deadline per command.
 *
 * A client that is not connected fails at once instead of queueing: ioredis's offline queue
 * would hold every request of an outage in memory and answer them late, after their deadline.
 *
 * A connected Redis that stops answering (paused, frozen, a network black hole) is the same
 * outage with the connection still up: while a command is past its deadline without an answer,
 * hits fail at once and at most one probe command per `timeout` is sent. Otherwise every request
 * of the stall would add a command to the client's queue (memory) and to the backlog Redis runs
 * when it wakes up (counting requests that were refused).
 */
export function createRedisCounter(client: RedisClient, options: RedisCounterOptions): Counter {
  const store = new RedisStore(false, false, client, REDIS_KEY_PREFIX)
  const { timeout } = options
  let closed = false
  // Commands past their deadline and still unanswered; while there are any, when the last one
  // (a deadline or a probe) happened.
  let stalled = 0
  let lastProbe = 0

  function hit(key: string, timeWindow: number, max: number, callback: CountCallback): void {
    if (client.status !== 'ready') {
      callback(new Error(`redis connection is ${client.status}`), null)
      return
    }
    if (stalled > 0) {
      const now = Date.now()
      if (now - lastProbe < timeout) {
        callback(new Error(`redis has not answered ${stalled} command(s) past ${timeout} ms`), null)
        return
      }
      lastProbe = now
    }
    let pending = true
    const timer = setTimeout(function redisDeadline() {
      if (!pending) return
      pending = false
      if (stalled++ === 0) lastProbe = Date.now()
      callback(new Error(`redis did not answer within ${timeout} ms`), null)
    }, timeout)
    try {
      store.incr(
        key,
        function redisAnswered(err, count) {
          if (!pending) {
            // A late answer (or error) of a command that missed its deadline.
            if (stalled > 0) stalled--
            return
          }
          pending = false
          clearTimeout(timer)
          // Redis answers again: whatever is still outstanding is not a stall any more.
          stalled = 0
          callback(err, count)
        },
        timeWindow,
        max,
      )
    } catch (err) {
      pending = false
      clearTimeout(timer)
      callback(err instanceof Error ? err : new Error(String(err)), null)
    }
  }

  function ready(ms: number): Promise<boolean> {
    if (client.status === 'ready') return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), ms)
      function onReady(): void {
        finish(true)
      }
      function finish(ok: boolean): void {
        clearTimeout(timer)
        client.removeListener('ready', onReady)
        resolve(ok)
      }
      client.once('ready', onReady)
    })
  }

  return Object.freeze({
    kind: 'redis' as const,
    hit,
    size: () => null,
    ready,
    async close() {
      if (closed) return
      closed = true
      await options.onClose?.()
    },
  })
}
