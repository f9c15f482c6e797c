import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import type { Count, Counter } from './counter.js'

// What `hitNow` answers if the store ever did not call back with a count: over every limit.
const EXHAUSTED: Count = Object.freeze({ current: Number.MAX_SAFE_INTEGER, ttl: 1000 })

/**
 * A counter in process memory: `@fastify/rate-limit`'s `LocalStore`, one LRU map of at most
 * `cache` keys for every route (keys are namespaced per route), so memory is bounded by `cache`
 * whatever the number of principals, IPs or routes.
 *
 * @param cache - most keys held; the least recently used is evicted first.
 */
export function createMemoryCounter(cache: number): Counter {
  // Neither `continueExceeding` nor `exponentialBackoff`: a plain fixed window, as documented.
  const store = new LocalStore(false, false, cache)
  // `incr` calls back synchronously with the entry it keeps: carried out through one callback.
  let last: Count = EXHAUSTED
  const keep = (_err: Error | null, count: Count | null): void => {
    // LocalStore's `incr` answers (null, entry).
    last = count ?? EXHAUSTED
  }
  return Object.freeze({
    kind: 'memory' as const,
    hit(key: string, timeWindow: number, max: number, callback: Parameters<Counter['hit']>[3]) {
      store.incr(key, callback, timeWindow, max)
    },
    hitNow(key: string, timeWindow: number, max: number): Count {
      store.incr(key, keep, timeWindow, max)
      return last
    },
    size: () => store.lru.size,
    ready: () => Promise.resolve(true),
    close() {
      store.lru.clear()
      return Promise.resolve()
    },
  })
}
