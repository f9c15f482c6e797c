import type { Duration } from '@portcullis/core'
import { durationIn } from '@portcullis/core/internal'
import { z } from 'zod'
import type { RateLimitKey } from '../options/rate-limit-options.js'

/** A positive safe integer; one message for every way to miss it (0, -1, 1.5, '10'). */
export const positiveInteger = z.custom<number>(
  (value) => Number.isSafeInteger(value) && (value as number) > 0,
  { error: 'must be a positive integer' },
)

/** An integer in a range, for bounded settings such as `cache`. */
export function integerIn(min: number, max: number): z.ZodType<number> {
  return z.custom<number>(
    (value) => Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max,
    { error: `must be an integer from ${min} to ${max}` },
  )
}

/** `timeWindow`: required, milliseconds or a duration string, resolved to milliseconds. */
export const timeWindowSchema = z.custom<Duration>().transform((value, ctx): number => {
  const ms =
    value === undefined
      ? 'is required: milliseconds or a duration such as "1 minute"'
      : durationIn(value, 'ms')
  if (typeof ms === 'string') {
    ctx.addIssue({ code: 'custom', message: ms })
    return z.NEVER
  }
  return ms
})

const KEY_NAMES: ReadonlySet<unknown> = new Set(['principal', 'client', 'ip'])

/** `key`: one of the named keys or a key function. */
export const keySchema = z.custom<RateLimitKey>(
  (value) => KEY_NAMES.has(value) || typeof value === 'function',
  { error: 'must be "principal", "client", "ip" or a function (principal, request) => string' },
)
