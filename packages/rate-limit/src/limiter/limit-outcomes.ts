import { DependencyError, RateLimitError } from '@portcullis/core'
import {
  emitAudit,
  refuse,
  type Answer,
  type DecisionContext,
  type RequestView,
} from '@portcullis/core/internal'
import type { HeaderNames } from '../options/resolve-options.js'

/** Whether the store answered last time: outages are logged once, not once per request. */
export interface StoreHealth {
  down: boolean
}

/** The part of a pino-style logger the limiter writes to. */
export interface LimiterLog {
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
  error(fields: object, message: string): void
}

/**
 * A store that failed (or did not answer in time): logged once per outage. Returns the error to
 * refuse the request with, or `null` when it is served unlimited (`onStoreError: 'fail-open'`).
 */
export function storeFailure(
  health: StoreHealth,
  onStoreError: 'fail-closed' | 'fail-open',
  log: LimiterLog,
  cause: unknown,
): DependencyError | null {
  const failOpen = onStoreError === 'fail-open'
  if (!health.down) {
    health.down = true
    log.warn(
      { err: cause, code: 'PCL_STORE_UNAVAILABLE' },
      failOpen
        ? 'portcullis: rate-limit store unavailable; serving requests UNLIMITED (onStoreError: fail-open)'
        : 'portcullis: rate-limit store unavailable; refusing requests with 503 (onStoreError: fail-closed)',
    )
  }
  return failOpen ? null : new DependencyError('PCL_STORE_UNAVAILABLE', { cause })
}

/**
 * The answer to a request whose count the store could not give: refused (503), or served with an
 * allow audit event (`PCL_STORE_UNAVAILABLE`) under `fail-open`; the outage logged once. The same
 * for the rate limit and the egress limits.
 */
export function storeUnavailable(
  view: RequestView,
  decision: DecisionContext,
  store: { readonly health: StoreHealth; readonly onStoreError: 'fail-closed' | 'fail-open' },
  route: string | null,
  cause: unknown,
): Answer {
  const refusal = storeFailure(store.health, store.onStoreError, view.log, cause)
  if (refusal === null) {
    emitAudit(view, decision, 'allow', 'PCL_STORE_UNAVAILABLE', { route })
    return null
  }
  return refuse(view, decision, refusal, route)
}

/** A store that answered: logs the end of an outage, once. */
export function storeAnswered(health: StoreHealth, log: LimiterLog): void {
  if (!health.down) return
  health.down = false
  log.info({}, 'portcullis: rate-limit store answering again')
}

/**
 * A key function that threw is a bug in the application: logged, and the request refused (503),
 * never served unlimited.
 */
export function keyFailure(log: LimiterLog, cause: unknown): DependencyError {
  log.error({ err: cause }, 'portcullis: the rate-limit key function failed; request refused')
  return new DependencyError('PCL_STORE_UNAVAILABLE', {
    message: 'rate-limit key function failed',
    cause,
  })
}

/** The 429 of a caller over its limit, `Retry-After` in whole seconds (at least 1). */
export function rateLimited(ttl: number): RateLimitError {
  const retryAfter = String(Math.max(1, Math.ceil(ttl / 1000)))
  return new RateLimitError('PCL_RATE_LIMITED', { headers: { 'Retry-After': retryAfter } })
}

/**
 * Sets the rate-limit headers of a counted request on `target`: the limit, what remains of it,
 * and the seconds until the window resets.
 */
export function setLimitHeaders(
  names: HeaderNames,
  max: number,
  current: number,
  ttl: number,
  target: { setHeader(name: string, value: number): void },
): void {
  target.setHeader(names.limit, max)
  target.setHeader(names.remaining, current < max ? max - current : 0)
  target.setHeader(names.reset, ttl > 0 ? Math.ceil(ttl / 1000) : 0)
}
