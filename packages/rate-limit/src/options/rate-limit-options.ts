import type {
  AuditSink,
  Duration,
  GuardRequest,
  Principal,
  TelemetryOptions,
} from '@portcullis/core'
import type { LockoutOptions } from '../egress/egress-options.js'

/**
 * Whom a request is counted against.
 *
 * - `'principal'` (default): the verified token's issuer and subject, so one credential cannot
 *   multiply its budget across IPs and many users behind one NAT do not starve each other.
 * - `'client'`: the OAuth client (`principal.clientId`); tokens without one count by principal.
 * - `'ip'`: `request.ip`, which follows Fastify's `trustProxy` (`X-Forwarded-For` counts only
 *   when the proxy is trusted). IPv6 addresses count per /64, as in `@fastify/rate-limit`.
 * - a function of the principal and the request returning a string. A function that throws or
 *   returns a non-string refuses the request (503 `PCL_STORE_UNAVAILABLE`): it is never served
 *   unlimited.
 *
 * Public routes always count by IP: they have no principal to count against.
 */
export type RateLimitKey = 'principal' | 'client' | 'ip' | RateLimitKeyFunction

/**
 * The request as a rate-limit key function sees it: what every adapter provides. Fastify's and
 * Express's requests both satisfy it.
 */
export interface RateLimitRequest extends GuardRequest {
  /**
   * The client address as the framework reports it (after its proxy trust settings); Express
   * reports none once the connection is gone.
   */
  readonly ip: string | undefined
}

// Declared as a method so that its parameters are compared bivariantly: a key function written
// for the framework's own request type (`(principal, request: FastifyRequest) => ...`, or
// `express.Request`) is accepted, and an unannotated one sees the framework-neutral request.
interface KeyFunctionSignature {
  key(principal: Principal, request: RateLimitRequest): string
}

/** A rate-limit key function: a string of the principal and the request. */
export type RateLimitKeyFunction = KeyFunctionSignature['key']

/**
 * The part of an ioredis client (`Redis` or `Cluster`) the limiter relies on; pass the client
 * itself. The limiter defines one Lua command on it (`rateLimit`, the script of
 * `@fastify/rate-limit`) and never closes it.
 */
export interface RedisClient {
  /** ioredis connection status; only `'ready'` clients are sent commands. */
  readonly status: string
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void
  once(event: 'ready', listener: () => void): unknown
  removeListener(event: 'ready', listener: () => void): unknown
  /** Called once at startup when the client was created with `lazyConnect` and is still idle. */
  connect?(): Promise<unknown>
}

/**
 * The pre-auth limiter: failed authentications per client IP before further tokens from that IP
 * are refused (429) without any verification work.
 */
export interface PreAuthOptions {
  /** Failed authentications allowed per IP in one window. A positive integer. */
  max: number
  /** The window: milliseconds, or a {@link Duration} such as `'1 minute'`. */
  timeWindow: Duration
  /** Most IPs tracked at once (least recently used evicted). Default 10000, up to 10000000. */
  cache?: number
}

/**
 * Rate-limit options: `rateLimit` in the `@portcullis/fastify` options.
 *
 * @example
 * ```ts
 * const rateLimit: RateLimitOptions = {
 *   max: 600,
 *   timeWindow: '1 minute',
 *   redis: 'redis://redis.internal:6379',
 *   preAuth: { max: 20, timeWindow: '1 minute' },
 * }
 * ```
 * @see https://github.com/portcullis-dev/portcullis/tree/main/packages/rate-limit#options
 */
export interface RateLimitOptions {
  /** Requests allowed per key and route in one window, for routes without `guard.rateLimit`. */
  max: number
  /**
   * The window: a positive integer of milliseconds, or a {@link Duration} as `@fastify/rate-limit`
   * reads it (`'1 minute'`, `'30s'`, `'2 hours'`). Windows are fixed: they start at a key's
   * first request and reset whole.
   */
  timeWindow: Duration
  /** Whom requests count against; default `'principal'`. See {@link RateLimitKey}. */
  key?: RateLimitKey
  /**
   * Shares counts between instances through Redis: an ioredis client (yours: the limiter never
   * closes it) or a `redis://` / `rediss://` URL (the limiter creates the client, needs the
   * `ioredis` package, and closes it with the app). Default: an in-memory store per process.
   */
  redis?: RedisClient | string
  /**
   * When Redis fails or is slower than `storeTimeout`:
   * - `'fail-closed'` (default): 503 `PCL_STORE_UNAVAILABLE` and a deny audit event.
   * - `'fail-open'`: serve the request unlimited, with an allow audit event carrying
   *   `PCL_STORE_UNAVAILABLE` and a warning in the log (once per outage).
   */
  onStoreError?: 'fail-closed' | 'fail-open'
  /**
   * Milliseconds (or a {@link Duration} such as `'250ms'`) to wait for Redis before counting it as
   * failed. Default 250, 1 to 60000.
   */
  storeTimeout?: Duration
  /**
   * Most keys the in-memory store holds (least recently used evicted first), which bounds its
   * memory. A key evicted early gets a fresh window, so size it above the keys active in one
   * window. Default 10000, up to 10000000. Ignored with `redis`.
   */
  cache?: number
  /**
   * Rate-limit headers on limited routes: `true` or `'draft'` (default) for `RateLimit-Limit`,
   * `RateLimit-Remaining`, `RateLimit-Reset` (the IETF draft, as `@fastify/rate-limit` sends them
   * with `enableDraftSpec`), `'x-ratelimit'` for the `X-RateLimit-*` names, `false` for none.
   * A 429 always carries `Retry-After`.
   */
  headers?: boolean | 'draft' | 'x-ratelimit'
  /**
   * Throttling of failed authentications per IP, before any signature work: once `max` tokens
   * from one address failed within `timeWindow`, further tokens from it are refused (429) without
   * being verified. On by default with `rateLimit`: 20 failures per minute per address (IPv6 per
   * /64). `false` turns it off. Applied by the tokens plugin: `@portcullis/fastify` and
   * `@portcullis/express` build it with {@link createPreAuthLimiter} and pass it there.
   */
  preAuth?: PreAuthOptions | false
  /**
   * The denial-burst lockout: `{ max, timeWindow, coolDown }` locks a principal out of every
   * guarded route for `coolDown` once it has had `max` authorization denials (insufficient
   * scope, caller not allowed, claim mismatch, a failed `check`) within `timeWindow`: 429
   * `PCL_LOCKED_OUT` with `Retry-After`, and a `PCL_LOCKED_OUT` audit event when it starts. Kept
   * in the same store as the counts (memory or `redis`). Default `false` (off). See
   * {@link LockoutOptions}.
   */
  lockout?: LockoutOptions | false
}

/**
 * Options of {@link rateLimitPlugin}: {@link RateLimitOptions} without `preAuth` (which belongs
 * to the tokens plugin), plus where decisions are reported (passed by `@portcullis/fastify`).
 */
export interface RateLimitPluginOptions extends Omit<RateLimitOptions, 'preAuth'> {
  /** Audit sink for 429s and store outages; default: the request's logger. */
  audit?: AuditSink
  /** `realm` of `WWW-Authenticate` challenges (RFC 6750 §3). */
  realm?: string
  /** OpenTelemetry metrics and spans of the limits; see `GuardOptions.telemetry`. */
  telemetry?: TelemetryOptions
}
