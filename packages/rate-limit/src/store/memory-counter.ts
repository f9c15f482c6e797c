import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import type { Counter } from './counter.js'

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
  return Object.freeze({
    kind: 'memory' as const,
    hit(key: string, timeWindow: number, max: number, callback: Parameters<Counter['hit']>[3]) {
      store.incr(key, callback, timeWindow, max)
    },
    size: () => store.lru.size,
    ready: () => Promise.resolve(true),
    close() {
      store.lru.clear()
      return Promise.resolve()
    },
  })
}
