import type { Principal } from '@portcullis/core'
import type { RateLimitKey } from '../options/rate-limit-options.js'

/** A principal-dependent `max`, resolved: both conditions (when present) must hold. */
export interface ResolvedOverride {
  /** The caller (`principal.clientId`) must be one of these. */
  readonly callers: readonly string[] | null
  /** The principal must hold every one of these scopes. */
  readonly scopes: readonly string[] | null
  readonly max: number
}

/** One limit, validated and resolved: what a route's hook is built from. */
export interface LimitSpec {
  readonly max: number
  /** Milliseconds. */
  readonly timeWindow: number
  readonly key: RateLimitKey
  /** The named bucket whose count the route shares, or `null` for the route's own count. */
  readonly bucket: string | null
  /** First match wins; none matching leaves `max`. */
  readonly overrides: readonly ResolvedOverride[]
}

/**
 * The `max` of a limit for a principal, compiled once per route: the first override whose
 * conditions the principal meets, else the limit's own `max` (also without a principal).
 */
export function maxOf(spec: LimitSpec): (principal: Principal | null | undefined) => number {
  const { max, overrides } = spec
  if (overrides.length === 0) return () => max
  return function overriddenMax(principal) {
    if (principal == null) return max
    for (const o of overrides) {
      if (
        o.callers !== null &&
        (principal.clientId === null || !o.callers.includes(principal.clientId))
      ) {
        continue
      }
      if (o.scopes !== null && !o.scopes.every((scope) => principal.scopes.has(scope))) continue
      return o.max
    }
    return max
  }
}
