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
