import type { Duration } from '@portcullis/core'
import { durationIn, type DurationUnit } from '@portcullis/core/internal'
import { z } from 'zod'
import type { TokensRedisClient } from '../options/tokens-options.js'

/** A non-empty string. */
export const nonEmptyString = z.string({ error: 'must be a string' }).min(1, 'must not be empty')

/** An integer in `[min, max]`, with a message naming the bound it misses. */
export function integer(min: number, max: number): z.ZodNumber {
  return z
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
}

/**
 * A time option counted in `unit`: a whole number of it, or a duration string (`'30s'`,
 * `'1 hour'`), resolved to that unit and checked against `[min, max]` after conversion.
 */
export function duration(unit: DurationUnit, min: number, max?: number) {
  const bounds = max === undefined ? { min } : { min, max }
  return z.custom<Duration>().transform((value, ctx): number => {
    const amount = durationIn(value, unit, bounds)
    if (typeof amount === 'string') {
      ctx.addIssue({ code: 'custom', message: amount })
      return z.NEVER
    }
    return amount
  })
}

/**
 * An ioredis client (`Redis` or `Cluster`), recognised by shape, not class: the application may
 * hold another copy of ioredis than ours, and `instanceof` fails across copies.
 */
export const redisClientSchema = z.custom<TokensRedisClient>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { call?: unknown }).call === 'function' &&
    typeof (value as { status?: unknown }).status === 'string',
  { error: 'must be an ioredis client (Redis or Cluster)' },
)
