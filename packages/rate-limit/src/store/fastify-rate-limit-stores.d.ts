// Types for the two stores of @fastify/rate-limit, which it ships without declarations. Both
// count a fixed window per key: `incr` adds one hit and reports the count in the current window
// and the milliseconds left in it; `read` reports them without counting.

/** What a store reports for one key. */
interface StoreCount {
  /** Hits in the current window, this one included. */
  current: number
  /** Milliseconds until the window resets. */
  ttl: number
}

type StoreCallback = (err: Error | null, result: StoreCount | null) => void

declare module '@fastify/rate-limit/store/LocalStore.js' {
  /** In-memory fixed windows in a toad-cache LRU map of at most `cache` keys. Synchronous. */
  class LocalStore {
    constructor(continueExceeding: boolean, exponentialBackoff: boolean, cache?: number)
    readonly lru: { readonly size: number; clear(): void }
    incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void
    read(key: string, cb: StoreCallback, timeWindow: number, max?: number): void
  }
  export = LocalStore
}

declare module '@fastify/rate-limit/store/RedisStore.js' {
  /** Fixed windows in Redis: one Lua script (INCR, PEXPIRE on the first hit, PTTL) per hit. */
  class RedisStore {
    constructor(
      continueExceeding: boolean,
      exponentialBackoff: boolean,
      redis: object,
      key?: string,
    )
    incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void
  }
  export = RedisStore
}
