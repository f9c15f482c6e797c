import type { Duration } from '@portcullis/core'
import type { Scope } from '@portcullis/policy'
import type { RateLimitKey } from '../options/rate-limit-options.js'

/**
 * A higher (or lower) `max` for some principals, declared as data: for callers in `callers`
 * and/or principals holding every scope of `scopes`.
 */
export interface RateLimitOverride {
  /** Conditions, at least one; all given must hold. */
  when: {
    /** The calling client (`principal.clientId`) is one of these. */
    callers?: readonly string[]
    /** The principal holds every one of these scopes. */
    scopes?: readonly Scope[]
  }
  /** The limit for matching principals, a positive integer. */
  max: number
}

/** A route's own limit (`guard.rateLimit`), replacing the plugin's default. */
export interface RouteLimit {
  /** Requests allowed per key in one window. A positive integer. */
  max: number
  /** Milliseconds, or a {@link Duration} such as `'1 minute'`. */
  timeWindow: Duration
  /** Whom requests count against; default: the plugin's `key`. Public routes count by IP. */
  key?: RateLimitKey
  /**
   * A named count shared by every route naming it (e.g. all search endpoints), instead of the
   * route's own. Routes sharing a bucket must declare the same limit.
   */
  bucket?: string
  /** Principal-dependent limits; the first that matches gives `max`. Not on public routes. */
  overrides?: readonly RateLimitOverride[]
}

/**
 * `guard.rateLimit`: the route's own limit, or `{ exempt: '<reason>' }` for a route that is not
 * limited (the reason shows in the inventory). Routes without it get the plugin's default.
 *
 * @example
 * ```ts
 * app.get('/v1/search', {
 *   config: {
 *     guard: {
 *       scopes: ['videos:read'],
 *       rateLimit: {
 *         max: 100,
 *         timeWindow: '1 minute',
 *         bucket: 'search',
 *         overrides: [{ when: { callers: ['indexer-svc'], scopes: ['videos:bulk'] }, max: 5000 }],
 *       },
 *     },
 *   },
 * }, handler)
 * ```
 * @see https://github.com/portcullis-dev/portcullis/tree/main/packages/rate-limit#route-limits
 */
export type RouteRateLimit = RouteLimit | { exempt: string }
