import { PortcullisConfigError, type AuditSink } from '@portcullis/core'
import { createTelemetry, invalidOptionsError, type Telemetry } from '@portcullis/core/internal'
import type { LimitSpec } from '../limiter/limit-spec.js'
import { pluginOptionsSchema, rateLimitDefaults } from './options-schema.js'
import type { LockoutSpec } from '../egress/egress-steps.js'
import type { RedisClient } from './rate-limit-options.js'

/** Names of the three rate-limit headers, lower case as Fastify stores them. */
export interface HeaderNames {
  readonly limit: string
  readonly remaining: string
  readonly reset: string
}

const DRAFT_HEADERS: HeaderNames = Object.freeze({
  limit: 'ratelimit-limit',
  remaining: 'ratelimit-remaining',
  reset: 'ratelimit-reset',
})

const X_HEADERS: HeaderNames = Object.freeze({
  limit: 'x-ratelimit-limit',
  remaining: 'x-ratelimit-remaining',
  reset: 'x-ratelimit-reset',
})

/** The plugin options, validated, with defaults applied, frozen. */
export interface ResolvedRateLimitOptions {
  /** The limit of routes without `guard.rateLimit`. */
  readonly defaults: LimitSpec
  readonly redis: RedisClient | string | undefined
  readonly onStoreError: 'fail-closed' | 'fail-open'
  readonly storeTimeout: number
  readonly cache: number
  /** `null` when headers are off. */
  readonly headers: HeaderNames | null
  readonly audit: AuditSink | undefined
  readonly realm: string | undefined
  /** OpenTelemetry instruments of the limits (`telemetry`). */
  readonly telemetry: Telemetry
  /** The denial-burst lockout, milliseconds resolved; `null` when off (the default). */
  readonly lockout: LockoutSpec | null
}

/**
 * Validates the plugin options once; a bad option throws `PCL_INVALID_OPTIONS` naming it
 * (`rateLimit.max: must be a positive integer`).
 */
export function resolveRateLimitOptions(input: unknown): ResolvedRateLimitOptions {
  if (typeof input === 'object' && input !== null && 'preAuth' in input) {
    throw new PortcullisConfigError(
      'PCL_INVALID_OPTIONS',
      'portcullis options: rateLimit.preAuth: is applied by the tokens plugin, before verification: register tokensPlugin with { preAuth: createPreAuthLimiter(...) } (@portcullis/fastify does this for you)',
      { field: 'rateLimit.preAuth' },
    )
  }
  const parsed = pluginOptionsSchema.safeParse(input)
  if (!parsed.success) throw invalidOptionsError(parsed.error.issues, 'rateLimit', parsed.error)
  const o = parsed.data
  const headers = o.headers ?? rateLimitDefaults.headers
  return Object.freeze({
    defaults: Object.freeze({
      max: o.max,
      timeWindow: o.timeWindow,
      key: o.key ?? rateLimitDefaults.key,
      bucket: null,
      overrides: [],
    }),
    redis: o.redis,
    onStoreError: o.onStoreError ?? rateLimitDefaults.onStoreError,
    storeTimeout: o.storeTimeout ?? rateLimitDefaults.storeTimeout,
    cache: o.cache ?? rateLimitDefaults.cache,
    headers: headers === false ? null : headers === 'x-ratelimit' ? X_HEADERS : DRAFT_HEADERS,
    audit: o.audit,
    realm: o.realm,
    telemetry: createTelemetry(o.telemetry),
    lockout: o.lockout === undefined || o.lockout === false ? null : Object.freeze(o.lockout),
  })
}
