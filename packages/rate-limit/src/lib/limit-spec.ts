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
