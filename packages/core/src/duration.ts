import { parse } from '@lukeed/ms'

/**
 * A length of time in an option: a number in the option's own unit (milliseconds or seconds, as
 * each option documents), or a string in the grammar of `@lukeed/ms`, the one
 * `@fastify/rate-limit` reads: an amount and a unit, such as `'250ms'`, `'30s'`, `'1 minute'`,
 * `'1.5 hours'`, `'2d'` (units `ms`, `s`, `m`, `h`, `d`, `w`, `y` and their spelled-out forms, in
 * any case). A string without a unit (`'500'`) is milliseconds. The value must come to a whole
 * number of the option's unit: `'1.5s'` is refused for an option in seconds, never rounded.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/getting-started.md#durations
 */
export type Duration = number | string

/** The unit an option counts in, and that its numbers are read in. */
export type DurationUnit = 'ms' | 's'

/** Inclusive bounds of an option, in its unit. Default: at least 1, at most 2^53 − 1. */
export interface DurationBounds {
  readonly min?: number
  readonly max?: number
}

const MS_PER: Readonly<Record<DurationUnit, bigint>> = { ms: 1n, s: 1000n }
const UNIT_NAMES: Readonly<Record<DurationUnit, readonly [one: string, many: string]>> = {
  ms: ['millisecond', 'milliseconds'],
  s: ['second', 'seconds'],
}

// Milliseconds per unit word, as @lukeed/ms counts them (a year is 365.25 days).
const UNIT_MS: readonly (readonly [words: RegExp, ms: bigint])[] = [
  [/^(?:ms|msecs?|milliseconds?)$/, 1n],
  [/^(?:s|secs?|seconds?)$/, 1000n],
  [/^(?:m|mins?|minutes?)$/, 60_000n],
  [/^(?:h|hrs?|hours?)$/, 3_600_000n],
  [/^(?:d|days?)$/, 86_400_000n],
  [/^(?:w|wks?|weeks?)$/, 604_800_000n],
  [/^(?:y|yrs?|years?)$/, 31_557_600_000n],
]

// The grammar of @lukeed/ms with exactly one unit word (it also takes run-together units such as
// '1hd', read as hours). Its amounts are decimals without exponent: '1', '1.5', '.5'.
const DURATION =
  /^(-?)(\d*)\.?(\d+) *(ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?|y|yrs?|years?)?$/

/** Longer strings are never durations of any use; not parsed, so never slow. */
const MAX_LENGTH = 64

const EXAMPLE = '"1 minute"'
const EXAMPLES = '"30s", "5 minutes" or "1.5 hours"'

function unitName(unit: DurationUnit, count: number | bigint): string {
  const [one, many] = UNIT_NAMES[unit]
  return count === 1 || count === 1n ? one : many
}

interface Range {
  readonly min: number
  /** `undefined`: no bound of the option's own, only 2^53 − 1. */
  readonly max: number | undefined
}

/** What a number must be, e.g. `an integer from 1 to 60000 (milliseconds)`. */
function numberRule({ min, max }: Range, unit: DurationUnit): string {
  const name = UNIT_NAMES[unit][1]
  if (max !== undefined) return `an integer from ${min} to ${max} (${name})`
  if (min === 1) return `a positive integer (${name})`
  if (min === 0) return `a non-negative integer (${name})`
  return `an integer of at least ${min} (${name})`
}

/** What a duration must come to, e.g. `from 1 to 60000 milliseconds`. */
function durationRule({ min, max }: Range, unit: DurationUnit): string {
  const name = UNIT_NAMES[unit][1]
  if (max !== undefined) return `from ${min} to ${max} ${name}`
  if (min === 1) return 'positive'
  if (min === 0) return 'at least 0'
  return `at least ${min} ${unitName(unit, min)}`
}

/** `value` when it is within `range`, else why not; `shown` is the string it came from. */
function inRange(
  value: bigint,
  range: Range,
  unit: DurationUnit,
  shown: string | undefined,
): number | string {
  const limit = range.max ?? Number.MAX_SAFE_INTEGER
  if (value >= BigInt(range.min) && value <= BigInt(limit)) return Number(value)
  if (range.max === undefined && value > BigInt(limit)) {
    return `must be at most ${limit} ${UNIT_NAMES[unit][1]}`
  }
  return shown === undefined
    ? `must be ${numberRule(range, unit)} or a duration such as ${EXAMPLE}`
    : `must be ${durationRule(range, unit)} (${shown} is ${value} ${unitName(unit, value)})`
}

/**
 * `value`, a time option, in `unit` (`'ms'` or `'s'`): a number is read in that unit, a string as
 * a {@link Duration}. Returns a whole number within `bounds` (default: at least 1), or a message
 * saying what is wrong with `value` (`'must be a whole number of seconds ("1.5s" is 1500 ms)'`),
 * for the option's field name to be put before it. Nothing is rounded: a value that does not come
 * to a whole number of `unit` is refused.
 */
export function durationIn(
  value: unknown,
  unit: DurationUnit,
  bounds: DurationBounds = {},
): number | string {
  const range: Range = { min: bounds.min ?? 1, max: bounds.max }
  const name = UNIT_NAMES[unit][1]
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      return `must be ${numberRule(range, unit)} or a duration such as ${EXAMPLE}`
    }
    // Integers beyond 2^53 are refused by the range, whose top is at most 2^53 − 1.
    return inRange(BigInt(value), range, unit, undefined)
  }
  if (typeof value !== 'string') {
    return `must be a number of ${name} or a duration string such as ${EXAMPLES}`
  }
  const text = value.trim()
  const shown = JSON.stringify(value.length > MAX_LENGTH ? `${value.slice(0, 40)}…` : value)
  const match = text.length <= MAX_LENGTH ? DURATION.exec(text.toLowerCase()) : null
  if (match === null) {
    return `must be a duration such as ${EXAMPLES}, or a number of ${name} (got ${shown})`
  }
  const [, sign = '', whole = '', fraction = '', word] = match
  // '1.5' matches as whole '1' and fraction '5'; '15' as whole '1' and fraction '5' too, with no
  // dot between them: put the dot back only where the text has one.
  const dotted = text.includes('.')
  const digits = BigInt(`${whole}${fraction}`)
  const scale = 10n ** BigInt(dotted ? fraction.length : 0)
  const msPerWord = word === undefined ? 1n : (UNIT_MS.find(([w]) => w.test(word))?.[1] ?? 0n)
  // @lukeed/ms decides what is a duration (it gives nothing for a zero amount, which is 0 here);
  // the amount is then counted exactly, in integers, where its floating point would read
  // '1.1 hours' as 3960000.0000000005 ms.
  if (msPerWord === 0n || (digits !== 0n && parse(text.toLowerCase()) === undefined)) {
    return `must be a duration such as ${EXAMPLES}, or a number of ${name} (got ${shown})`
  }
  const numerator = digits * msPerWord
  const denominator = scale * MS_PER[unit]
  if (numerator % denominator !== 0n) {
    if (unit === 'ms') return `must be a whole number of milliseconds (got ${shown})`
    const ms = Number(numerator) / Number(scale)
    return word === undefined
      ? `must be a whole number of seconds: a string without a unit is milliseconds (${shown} is ${ms} ms); write a number of seconds or a duration such as "90s"`
      : `must be a whole number of seconds (${shown} is ${ms} ms)`
  }
  const amount = numerator / denominator
  return inRange(sign === '-' ? -amount : amount, range, unit, shown)
}
