/** What a store reports for one hit. */
export interface Count {
  /** Hits in the current window, this one included. */
  readonly current: number
  /** Milliseconds until the window resets. */
  readonly ttl: number
}

/** Called once per hit: with a count, or with the store's error (and `null`). */
export type CountCallback = (err: Error | null, count: Count | null) => void

/**
 * Counts hits per key in fixed windows, on a store of `@fastify/rate-limit`. The callback of the
 * in-memory counter runs synchronously, so the hot path allocates no promise.
 */
export interface Counter {
  readonly kind: 'memory' | 'redis'
  /** Counts one hit of `key` in a window of `timeWindow` ms whose limit is `max`. */
  hit(key: string, timeWindow: number, max: number, callback: CountCallback): void
  /**
   * The same count answered at once, for a store that answers synchronously (memory), so the
   * warm path builds no callback per request; `null` for Redis. The count is read before the
   * next hit.
   */
  readonly hitNow: ((key: string, timeWindow: number, max: number) => Count) | null
  /** Keys held in memory, for the memory counter; `null` for Redis. */
  size(): number | null
  /** Waits (at most `ms`) until the store can answer; resolves `false` if it cannot yet. */
  ready(ms: number): Promise<boolean>
  /** Releases what the counter owns (a Redis client it created); idempotent. */
  close(): Promise<void>
}
