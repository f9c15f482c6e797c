import { createHash } from 'node:crypto'
import { createRedisGate, type RedisGate } from '@portcullis/core/internal'
import { LRUCache } from 'lru-cache'
import type { RedisClient } from '../options/rate-limit-options.js'

/** A budget's balance for one key: what was charged in the window, and its milliseconds left. */
export interface Balance {
  readonly used: number
  /** Milliseconds until the window resets; 0 when no window is open. */
  readonly ttl: number
}

/** The balance after a charge. */
export interface Charged extends Balance {
  /** True when the charge was refused (`overdraw: 'refuse'`): nothing was charged. */
  readonly refused: boolean
}

/** The answer to one look at an enumeration set. */
export interface Distinct {
  /** False when the values would take the set past its limit: nothing was added. */
  readonly allowed: boolean
  /** Distinct values held in the window. */
  readonly held: number
  readonly ttl: number
}

/** A store's answer: now (memory) or later (Redis, which may reject). */
export type Maybe<T> = T | Promise<T>

/**
 * Where egress budgets, enumeration sets and lockouts live: in process memory (bounded), or in
 * Redis shared by every instance. Every key names its counting key in a Redis hash tag
 * (`{...}`), so the keys of one principal share a slot and a script touching two of them never
 * crosses slots on a Redis Cluster.
 */
export interface EgressStore {
  readonly kind: 'memory' | 'redis'
  /** The balance of `key` (nothing charged). */
  balance(key: string): Maybe<Balance>
  /**
   * Charges `amount` against `key`, opening a window of `window` ms if none is open. Over `max`:
   * refused when `refuse`, else the balance is brought to zero (`used` = `max`).
   */
  charge(key: string, amount: number, max: number, window: number, refuse: boolean): Maybe<Charged>
  /** Adds `values` to the set of `key` unless that takes it past `max` distinct values. */
  touch(key: string, values: readonly string[], max: number, window: number): Maybe<Distinct>
  /** Milliseconds `key` stays locked out; 0 when it is not. */
  lockedFor(key: string): Maybe<number>
  /**
   * Counts one denial of `key` in a window of `window` ms; the `max`-th locks it out for
   * `coolDown` ms. Resolves the cool-down when this denial started one, else 0.
   */
  deny(key: string, max: number, window: number, coolDown: number): Maybe<number>
  /** Keys held in memory (every kind together), for the memory store; `null` for Redis. */
  size(): number | null
  clear(): void
}

/** Values longer than this are held as their SHA-256, so a set's memory stays bounded. */
const MAX_VALUE_LENGTH = 64

/** How an enumeration value is held: itself, or its digest when long. */
export function heldValue(value: string): string {
  if (value.length <= MAX_VALUE_LENGTH) return value
  return `#${createHash('sha256').update(value).digest('base64url')}`
}

/**
 * The hash tag of a counting key: Redis Cluster hashes only what lies between the first `{` and
 * the next `}`, so braces (and the escape character) inside the key are escaped.
 */
export function hashTag(key: string): string {
  return `{${key.replace(/[{}%]/gu, (c) => `%${c.charCodeAt(0).toString(16)}`)}}`
}

interface Window {
  used: number
  resetAt: number
}

interface DistinctSet {
  readonly values: Set<string>
  resetAt: number
}

interface Denials {
  count: number
  resetAt: number
  lockedUntil: number
}

/** Whether the window of `entry` is still open at `now`. */
function open<T extends { resetAt: number }>(entry: T | undefined, now: number): entry is T {
  return entry !== undefined && entry.resetAt > now
}

const NONE: Balance = Object.freeze({ used: 0, ttl: 0 })

/**
 * The in-memory store: three LRU maps (budgets, enumeration sets, lockouts) of at most `cache`
 * keys each, so memory is bounded by `cache` keys whatever the number of principals; an
 * enumeration set holds at most its `maxDistinct` values, each at most 64 characters (longer
 * ones are held as their SHA-256). A key evicted early starts afresh: size `cache` above the
 * keys active in one window.
 */
export function createMemoryEgressStore(cache: number): EgressStore {
  const budgets = new LRUCache<string, Window>({ max: cache })
  const sets = new LRUCache<string, DistinctSet>({ max: cache })
  const locks = new LRUCache<string, Denials>({ max: cache })
  return Object.freeze({
    kind: 'memory' as const,
    balance(key: string): Balance {
      const entry = budgets.get(key)
      const now = Date.now()
      if (!open(entry, now)) return NONE
      return { used: entry.used, ttl: entry.resetAt - now }
    },
    charge(key: string, amount: number, max: number, window: number, refuse: boolean): Charged {
      const now = Date.now()
      let entry = budgets.get(key)
      if (!open(entry, now)) {
        entry = { used: 0, resetAt: now + window }
        if (!(refuse && amount > max)) budgets.set(key, entry)
      }
      if (entry.used + amount > max && refuse) {
        return { used: entry.used, ttl: entry.resetAt - now, refused: true }
      }
      entry.used = Math.min(max, entry.used + amount)
      return { used: entry.used, ttl: entry.resetAt - now, refused: false }
    },
    touch(key: string, values: readonly string[], max: number, window: number): Distinct {
      const now = Date.now()
      let entry = sets.get(key)
      if (!open(entry, now)) {
        entry = { values: new Set(), resetAt: now + window }
        sets.set(key, entry)
      }
      const held = entry.values
      const fresh = values.filter((value) => !held.has(value))
      const ttl = entry.resetAt - now
      if (held.size + fresh.length > max) {
        return { allowed: false, held: held.size, ttl }
      }
      for (const value of fresh) held.add(value)
      return { allowed: true, held: held.size, ttl }
    },
    lockedFor(key: string): number {
      const entry = locks.get(key)
      if (entry === undefined) return 0
      return Math.max(0, entry.lockedUntil - Date.now())
    },
    deny(key: string, max: number, window: number, coolDown: number): number {
      const now = Date.now()
      let entry = locks.get(key)
      if (entry === undefined) {
        entry = { count: 0, resetAt: 0, lockedUntil: 0 }
        locks.set(key, entry)
      }
      if (entry.resetAt <= now) {
        // A new window; a lockout under way (lockedUntil) stays.
        entry.count = 0
        entry.resetAt = now + window
      }
      entry.count++
      if (entry.count < max) return 0
      // The denials that locked the key are spent: the next denial opens a new window (as the
      // script's DEL does on Redis).
      entry.resetAt = now
      entry.lockedUntil = now + coolDown
      return coolDown
    },
    size: () => budgets.size + sets.size + locks.size,
    clear() {
      budgets.clear()
      sets.clear()
      locks.clear()
    },
  })
}

// One script per operation, each atomic on Redis. Budgets: a counter clamped to max, with the
// window as its TTL. Enumeration: a set with the window as its TTL. Lockouts: a denial counter
// and a lock key, both under one hash tag (KEYS[1] and KEYS[2] share a slot).
const BALANCE = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
return {used, ttl}`

const CHARGE = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if used + amount > max and ARGV[4] == '1' then
  if ttl < 0 then ttl = tonumber(ARGV[3]) end
  return {used, ttl, 1}
end
local total = math.min(used + amount, max)
if ttl < 0 then
  redis.call('SET', KEYS[1], total, 'PX', ARGV[3])
  ttl = tonumber(ARGV[3])
else
  redis.call('INCRBY', KEYS[1], total - used)
end
return {total, ttl, 0}`

const TOUCH = `
local fresh = {}
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 0 then fresh[#fresh + 1] = ARGV[i] end
end
local held = redis.call('SCARD', KEYS[1])
if #fresh == 0 then return {1, held, redis.call('PTTL', KEYS[1])} end
if held + #fresh > tonumber(ARGV[1]) then return {0, held, redis.call('PTTL', KEYS[1])} end
redis.call('SADD', KEYS[1], unpack(fresh))
if held == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {1, held + #fresh, redis.call('PTTL', KEYS[1])}`

const DENY = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n < tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
return tonumber(ARGV[3])`

type Reply = (number | string)[]

interface ScriptedClient {
  portcullisEgressBalance(key: string): Promise<Reply>
  portcullisEgressCharge(key: string, ...args: (string | number)[]): Promise<Reply>
  portcullisEgressTouch(key: string, ...args: (string | number)[]): Promise<Reply>
  portcullisEgressDeny(denials: string, lock: string, ...args: number[]): Promise<number>
  pttl(key: string): Promise<number>
}

const SCRIPTS: readonly [name: string, lua: string, keys: number][] = [
  ['portcullisEgressBalance', BALANCE, 1],
  ['portcullisEgressCharge', CHARGE, 1],
  ['portcullisEgressTouch', TOUCH, 1],
  ['portcullisEgressDeny', DENY, 2],
]

/** Prefix of every key the egress store writes to Redis. */
export const EGRESS_KEY_PREFIX = 'portcullis:eg:'

const ttlOf = (value: number | string | undefined): number => {
  const ttl = Number(value)
  return ttl > 0 ? ttl : 0
}

/**
 * The Redis store: every operation one Lua script (or `PTTL`) under the shared Redis deadline
 * (`createRedisGate`). `client` may return `null` until a client created from a URL exists;
 * operations fail until then, and the caller answers per `onStoreError`.
 */
export function createRedisEgressStore(
  client: () => RedisClient | null,
  timeout: number,
): EgressStore {
  let bound: { client: RedisClient; gate: RedisGate } | undefined

  function run<T>(send: (scripted: ScriptedClient) => Promise<T>): Promise<T> {
    const current = client()
    if (current === null) return Promise.reject(new Error('redis client not created yet'))
    if (bound?.client !== current) {
      // Defining a command again (another store on the same client) replaces it with itself.
      for (const [name, lua, numberOfKeys] of SCRIPTS) {
        current.defineCommand(name, { lua, numberOfKeys })
      }
      bound = { client: current, gate: createRedisGate(current, timeout) }
    }
    const scripted = current as unknown as ScriptedClient
    return bound.gate.run(() => send(scripted))
  }

  const key = (name: string): string => EGRESS_KEY_PREFIX + name
  return Object.freeze({
    kind: 'redis' as const,
    async balance(name: string): Promise<Balance> {
      const [used, ttl] = await run((c) => c.portcullisEgressBalance(key(name)))
      return { used: Number(used), ttl: ttlOf(ttl) }
    },
    async charge(name: string, amount: number, max: number, window: number, refuse: boolean) {
      const [used, ttl, refused] = await run((c) =>
        c.portcullisEgressCharge(key(name), amount, max, window, refuse ? 1 : 0),
      )
      return { used: Number(used), ttl: ttlOf(ttl), refused: Number(refused) === 1 }
    },
    async touch(name: string, values: readonly string[], max: number, window: number) {
      const [allowed, held, ttl] = await run((c) =>
        c.portcullisEgressTouch(key(name), max, window, ...values),
      )
      return { allowed: Number(allowed) === 1, held: Number(held), ttl: ttlOf(ttl) }
    },
    async lockedFor(name: string): Promise<number> {
      return ttlOf(await run((c) => c.pttl(`${key(name)}:l`)))
    },
    async deny(name: string, max: number, window: number, coolDown: number): Promise<number> {
      const locked = await run((c) =>
        c.portcullisEgressDeny(`${key(name)}:n`, `${key(name)}:l`, max, window, coolDown),
      )
      return Number(locked)
    },
    size: () => null,
    clear: () => undefined,
  })
}
