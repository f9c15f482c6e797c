import type { Duration } from '@portcullis/core'
import { durationIn, type DurationUnit } from '@portcullis/core/internal'
import { z } from 'zod'
import type { TokensRedisClient } from '../options/tokens-options.js'

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])

/**
 * A URL the package fetches from or points clients to (a JWKS, an introspection or SET poll
 * endpoint, resource metadata): absolute, `https:` (`http:` only for a loopback host, for tests
 * and sidecars: keys, tokens and events sent in clear text could be read or swapped in transit),
 * without credentials (they would end up in logs and in errors). `bare`: nor a query or fragment
 * (identifiers, RFC 9728 §1.2 and §3.1). `what` names the value in messages.
 */
export function httpsUrl({ what, bare = false }: { what?: string; bare?: boolean } = {}) {
  return z.string({ error: `must be ${what ?? 'a URL string'}` }).superRefine((value, ctx) => {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be ${what ?? 'an absolute URL'}` })
      return
    }
    if (url.username !== '' || url.password !== '') {
      ctx.addIssue({ code: 'custom', message: 'must not carry credentials' })
    } else if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
      ctx.addIssue({ code: 'custom', message: 'must use https: (http: only for a loopback host)' })
    } else if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: 'must use https:' })
    } else if (bare && (url.hash !== '' || value.includes('#'))) {
      ctx.addIssue({ code: 'custom', message: 'must not have a fragment (RFC 9728 §1.2)' })
    } else if (bare && url.search !== '') {
      ctx.addIssue({
        code: 'custom',
        message: 'must not have a query: the metadata URL is derived from the path (RFC 9728 §3.1)',
      })
    }
  })
}

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
