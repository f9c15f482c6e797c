import type { Duration } from '@portcullis/core'
import type { Scope } from '@portcullis/policy'
import type { RateLimitKey } from '../options/rate-limit-options.js'

/**
 * `guard.budget`: how much one principal (or client, IP, key function) may take home from a
 * route, or from every route naming the same budget, per window. Charged after the response
 * projection, on what actually leaves: `items` (elements of the projected response's arrays, or
 * of the array at `path`) or `bytes` (the projected body serialized as JSON). A request that
 * starts with the budget spent is refused before its handler runs (429 `PCL_BUDGET_EXHAUSTED`,
 * `Retry-After` and the RateLimit headers of the budget).
 *
 * @example
 * ```ts
 * guard: {
 *   scopes: ['history:read'],
 *   budget: { name: 'viewing-history', unit: 'items', max: 1000, timeWindow: '1 hour' },
 *   response: { allow: ['items[].videoId', 'items[].watchedAt'], maxItems: 100 },
 * }
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/rate-limit.md#egress-budgets
 */
export interface RouteBudget {
  /**
   * One balance shared by every route naming it (`'viewing-history'`); routes sharing a name
   * must declare the same `unit`, `max`, `timeWindow`, `key` and `byScope`. Default: the route's
   * own balance.
   */
  name?: string
  /** What is counted: `'items'` (array elements) or `'bytes'` (the serialized JSON body). */
  unit: 'items' | 'bytes'
  /** Items or bytes allowed per key in one window. A positive integer. */
  max: number
  /** The window: milliseconds or a {@link Duration} (`'1 hour'`). Fixed: starts at the first charge. */
  timeWindow: Duration
  /** Whom the budget is counted against; default: the `rateLimit` option's `key`. */
  key?: RateLimitKey
  /**
   * A larger `max` for principals holding a scope (`{ 'history:bulk': 100000 }`): the largest
   * that applies wins, as for `maxItems`.
   */
  byScope?: Partial<Record<Scope, number>>
  /**
   * A response that would overdraw the balance: `'serve'` (default) sends it and brings the
   * balance to zero (the next request is refused); `'refuse'` answers 429 instead, charging
   * nothing (the handler has run).
   */
  overdraw?: 'serve' | 'refuse'
  /**
   * With `unit: 'items'`, the array that counts (`'items'`, `'data.results[]'`); default: a
   * top-level array, or the arrays directly under a top-level object (an object without one
   * counts as one item).
   */
  path?: string
}

/**
 * `guard.enumeration`: how many distinct values of a route parameter (`param`) or query
 * parameter (`query`) one principal may touch per window. Re-reading a value seen is free; the
 * first value past `maxDistinct` is refused (429 `PCL_ENUMERATION`, audited).
 *
 * @example
 * ```ts
 * guard: { scopes: ['users:read'], enumeration: { param: 'id', maxDistinct: 200, timeWindow: '1 hour' } }
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/rate-limit.md#enumeration-limits
 */
export type RouteEnumeration = {
  /** Distinct values allowed per key in one window. A positive integer, at most 100000. */
  maxDistinct: number
  /** The window: milliseconds or a {@link Duration}. Fixed: starts at the first value. */
  timeWindow: Duration
  /** Whom the values are counted against; default: the `rateLimit` option's `key`. */
  key?: RateLimitKey
} & ({ param: string; query?: never } | { query: string; param?: never })

/**
 * `rateLimit.lockout`: the denial-burst lockout. `max` authorization denials (insufficient
 * scope, caller not allowed, claim mismatch, a `check` that said no) of one principal within
 * `timeWindow` lock it out of every guarded route for `coolDown` (429 `PCL_LOCKED_OUT`, an
 * audit event when the lockout starts). Off by default.
 */
export interface LockoutOptions {
  /** Denials within one window that lock the principal out. A positive integer. */
  max: number
  /** The window the denials are counted in: milliseconds or a {@link Duration}. */
  timeWindow: Duration
  /** How long a principal stays locked out: milliseconds or a {@link Duration}. */
  coolDown: Duration
}
