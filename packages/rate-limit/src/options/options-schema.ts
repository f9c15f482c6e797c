import type { AuditSink } from '@portcullis/core'
import { z } from 'zod'
import { durationSchema } from '@portcullis/tokens/internal'
import { integerIn, keySchema, positiveInteger, timeWindowSchema } from '../lib/schema-parts.js'
import type { RedisClient } from './rate-limit-options.js'
import { lockoutSchema } from '../egress/egress-schema.js'

/** Defaults of every optional setting, documented on `RateLimitOptions`. */
export const rateLimitDefaults = Object.freeze({
  key: 'principal',
  onStoreError: 'fail-closed',
  storeTimeout: 250,
  cache: 10_000,
  headers: 'draft',
  /** Failed authentications per address before tokens from it are refused unverified. */
  preAuth: Object.freeze({ max: 20, timeWindow: 60_000 }),
} as const)

/** Largest `cache`: a bound users can reason about, never "unbounded". */
export const MAX_CACHE = 10_000_000

// An ioredis client is recognised by shape, not class: the application may hold another copy of
// ioredis than ours, and `instanceof` fails across copies.
function isRedisClient(value: unknown): value is RedisClient {
  if (typeof value !== 'object' || value === null) return false
  const client = value as Record<string, unknown>
  return (
    typeof client.defineCommand === 'function' &&
    typeof client.evalsha === 'function' &&
    typeof client.status === 'string'
  )
}

const redisSchema = z.unknown().superRefine((value, ctx) => {
  if (typeof value === 'string') {
    let url: URL | undefined
    try {
      url = new URL(value)
    } catch {
      url = undefined
    }
    if (url === undefined || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) {
      ctx.addIssue({ code: 'custom', message: 'must be a redis:// or rediss:// URL' })
    }
    return
  }
  if (!isRedisClient(value)) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an ioredis client (Redis or Cluster) or a redis:// or rediss:// URL',
    })
  }
}) as z.ZodType<RedisClient | string>

/** The schema of `preAuth`, also used by `createPreAuthLimiter`. */
export const preAuthSchema = z.strictObject(
  {
    max: positiveInteger,
    timeWindow: timeWindowSchema,
    cache: integerIn(1, MAX_CACHE).optional(),
  },
  { error: 'must be an object { max, timeWindow }' },
)

const shape = {
  max: positiveInteger,
  timeWindow: timeWindowSchema,
  key: keySchema.optional(),
  redis: redisSchema.optional(),
  onStoreError: z
    .enum(['fail-closed', 'fail-open'], { error: 'must be "fail-closed" or "fail-open"' })
    .optional(),
  storeTimeout: durationSchema('ms', 1, 60_000).optional(),
  cache: integerIn(1, MAX_CACHE).optional(),
  headers: z
    .custom<boolean | 'draft' | 'x-ratelimit'>(
      (value) => typeof value === 'boolean' || value === 'draft' || value === 'x-ratelimit',
      { error: 'must be true, false, "draft" or "x-ratelimit"' },
    )
    .optional(),
  lockout: lockoutSchema.optional(),
}

/**
 * The zod schema of `RateLimitOptions` (the `rateLimit` option of `@portcullis/fastify`, with
 * `preAuth`): unknown keys refused, `max` a positive integer, `timeWindow` and `storeTimeout`
 * resolved to milliseconds, `redis` a client or a `redis://` URL, every bound checked.
 *
 * @example
 * ```ts
 * const result = rateLimitOptionsSchema.safeParse({ max: 600, timeWindow: '1 minute' })
 * if (result.success) result.data.timeWindow // 60000
 * ```
 * @see https://github.com/portcullis-dev/portcullis/tree/main/packages/rate-limit#options
 */
export const rateLimitOptionsSchema = z.strictObject(
  {
    ...shape,
    preAuth: z
      .union([preAuthSchema, z.literal(false)], {
        error: 'must be an object { max, timeWindow } or false',
      })
      .optional(),
  },
  { error: 'must be an object { max, timeWindow, ... }' },
)

/** The plugin's own options: no `preAuth` (the tokens plugin applies it), plus audit and realm. */
export const pluginOptionsSchema = z.strictObject(
  {
    ...shape,
    audit: z
      .custom<AuditSink>((value) => typeof value === 'function', { error: 'must be a function' })
      .optional(),
    realm: z
      .string({ error: 'must be a string' })
      .max(200, 'must be at most 200 characters')
      .optional(),
    telemetry: z.unknown().optional(),
  },
  { error: 'must be an object { max, timeWindow, ... }' },
)
