import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import { RateLimitError } from '@portcullis/core'
import { invalidOptionsError } from '@portcullis/core/internal'
import type { PreAuthLimiter } from '@portcullis/tokens'
import { ipKey } from '../limiter/index.js'
import { preAuthSchema, rateLimitDefaults, type PreAuthOptions } from '../options/index.js'

function ignore(): void {
  // `failed` only counts; the count is read by `check`.
}

/**
 * Creates the pre-auth limiter the tokens plugin consults before verifying a token: once `max`
 * authentications failed from one IP within `timeWindow`, further tokens from that IP are refused
 * (429 `PCL_RATE_LIMITED`, `Retry-After`) without any signature work, so brute force and token
 * spraying cannot burn CPU. A fixed window per IP (IPv6 per /64) in `@fastify/rate-limit`'s
 * in-memory LRU store of at most `cache` addresses; both calls are synchronous map operations.
 *
 * Throws `PCL_INVALID_OPTIONS` naming the field (`rateLimit.preAuth.max`) for bad options.
 *
 * @example
 * ```ts
 * await app.register(tokensPlugin, {
 *   issuers: [...],
 *   preAuth: createPreAuthLimiter({ max: 20, timeWindow: '1 minute' }),
 * })
 * ```
 * @see https://github.com/portcullis-dev/portcullis/tree/main/packages/rate-limit#pre-auth-limiter
 */
export function createPreAuthLimiter(options: PreAuthOptions): PreAuthLimiter {
  const parsed = preAuthSchema.safeParse(options)
  if (!parsed.success) {
    throw invalidOptionsError(parsed.error.issues, 'rateLimit.preAuth', parsed.error)
  }
  const { max, timeWindow } = parsed.data
  const store = new LocalStore(false, false, parsed.data.cache ?? rateLimitDefaults.cache)
  // `read` answers synchronously; the holder carries its answer out of the callback.
  const seen = { current: 0, ttl: 0 }
  function record(_err: Error | null, count: { current: number; ttl: number } | null): void {
    // LocalStore's `read` answers (null, count) at once: { current: 0, ttl: 0 } once a window
    // is over.
    seen.current = count?.current ?? 0
    seen.ttl = count?.ttl ?? 0
  }
  // No window can hold a failure from this time on: a window starts at its address's first
  // failure and lasts `timeWindow`, so it ends by the last failure plus `timeWindow`. Until an
  // address fails again, `check` answers without reading the address (a getter that parses
  // X-Forwarded-For on Express) or the store.
  let quietFrom = 0
  return Object.freeze({
    check(request: { readonly ip?: string | undefined }) {
      if (Date.now() >= quietFrom) return null
      store.read(ipKey(request.ip), record, timeWindow)
      if (seen.current < max) return null
      return new RateLimitError('PCL_RATE_LIMITED', {
        message: 'too many failed authentications from this address',
        headers: { 'Retry-After': String(Math.max(1, Math.ceil(seen.ttl / 1000))) },
      })
    },
    failed(request: { readonly ip?: string | undefined }) {
      store.incr(ipKey(request.ip), ignore, timeWindow, max)
      quietFrom = Date.now() + timeWindow
    },
  })
}

/**
 * The pre-auth limiter of an app's `rateLimit` option: on by default (20 failed authentications
 * per minute per address), off with `preAuth: false` or without `rateLimit`. The same for both
 * adapters.
 */
export function preAuthOf(rateLimit: { readonly preAuth?: PreAuthOptions | false } | undefined) {
  if (rateLimit === undefined || rateLimit.preAuth === false) return undefined
  return createPreAuthLimiter(rateLimit.preAuth ?? rateLimitDefaults.preAuth)
}

/** The `rateLimit` option without `preAuth`: what the rate-limit plugin itself takes. */
export function withoutPreAuth<T extends { readonly preAuth?: unknown }>(
  options: T,
): Omit<T, 'preAuth'> {
  const { preAuth: _ignored, ...rest } = options
  void _ignored
  return rest
}
