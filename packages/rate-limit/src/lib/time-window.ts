import { parse as parseDuration } from '@lukeed/ms'

// @lukeed/ms is what @fastify/rate-limit uses for its string `timeWindow` ('1 minute', '30s',
// '1.5 hours', '500'): the same strings mean the same windows here.

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/**
 * Milliseconds of a `timeWindow` option, or a message saying what is wrong with it. Only whole,
 * positive numbers of milliseconds are windows: anything else is refused rather than rounded.
 */
export function timeWindowMs(value: unknown): number | string {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value > 0
      ? value
      : 'must be a positive integer (milliseconds) or a duration such as "1 minute"'
  }
  if (typeof value === 'string') {
    const ms = parseDuration(value.trim())
    if (ms === undefined) {
      return `must be a duration such as "1 minute", "30s" or "2 hours" (got ${JSON.stringify(value.slice(0, 40))})`
    }
    return Number.isSafeInteger(ms) && ms > 0
      ? ms
      : 'must be a positive, whole number of milliseconds'
  }
  return 'must be a positive integer (milliseconds) or a duration such as "1 minute"'
}

const NAMED: readonly (readonly [ms: number, name: string])[] = [
  [DAY, 'day'],
  [HOUR, 'hour'],
  [MINUTE, 'minute'],
  [SECOND, 'second'],
]

/** A window for people: `1 minute`, `90 seconds`, `1500 ms`; exact, never rounded. */
export function formatWindow(ms: number): string {
  for (const [unit, name] of NAMED) {
    if (ms % unit === 0) {
      const count = ms / unit
      return `${count} ${name}${count === 1 ? '' : 's'}`
    }
  }
  return `${ms} ms`
}
