import { parse } from '@lukeed/ms'
import { describe, expect, it } from 'vitest'
import { durationIn } from './duration.js'

const MESSAGE = /^must be /

describe('durations, in the grammar of @lukeed/ms', () => {
  it.each([
    ['250ms', 250],
    ['250 ms', 250],
    ['1 msec', 1],
    ['2 milliseconds', 2],
    ['500', 500],
    ['30s', 30_000],
    ['30 sec', 30_000],
    ['30 seconds', 30_000],
    ['1 second', 1000],
    ['1m', 60_000],
    ['1 min', 60_000],
    ['2 mins', 120_000],
    ['1 minute', 60_000],
    ['1 Minute', 60_000],
    ['1.5 hours', 5_400_000],
    ['1h', 3_600_000],
    ['2 hrs', 7_200_000],
    ['2d', 172_800_000],
    ['1 day', 86_400_000],
    ['1w', 604_800_000],
    ['1 wk', 604_800_000],
    ['1y', 31_557_600_000],
    ['.5s', 500],
    ['1.1 hours', 3_960_000],
    ['00010s', 10_000],
    [' 1 minute ', 60_000],
  ])('%j is %d ms', (text, ms) => {
    expect(durationIn(text, 'ms')).toBe(ms)
  })

  it('agrees with @lukeed/ms wherever both give a whole number', () => {
    for (const text of ['1s', '1.5 hours', '2 days', '3 weeks', '1 year', '250', '90 mins']) {
      expect(durationIn(text, 'ms')).toBe(parse(text))
    }
  })

  it('counts exactly, where floating point would not (1.1 hours)', () => {
    expect(1.1 * 3_600_000).not.toBe(3_960_000)
    expect(durationIn('1.1 hours', 'ms')).toBe(3_960_000)
    expect(durationIn('1.1 hours', 's')).toBe(3960)
  })

  it.each([
    '',
    '  ',
    'abc',
    'soon',
    'minute',
    '1 fortnight',
    '1 minute ago',
    'in 1 minute',
    '1e400',
    '1e3',
    'Infinity',
    'NaN',
    '1.',
    '1_000',
    '1,5s',
    '1hd',
    '1 h d',
    '1mss',
    '1\ts',
    '0x10',
    '+1s',
    '--1s',
    '1 s s',
    `${'9'.repeat(100)}`,
  ])('%j is not one', (text) => {
    expect(durationIn(text, 'ms')).toMatch(/^must be a duration such as /)
  })
})

describe('numbers and strings, in the unit of the option', () => {
  it('reads numbers in the unit, strings as durations', () => {
    expect(durationIn(60, 's')).toBe(60)
    expect(durationIn('1 minute', 's')).toBe(60)
    expect(durationIn('2 days', 's')).toBe(172_800)
    expect(durationIn(1500, 'ms')).toBe(1500)
    expect(durationIn('1.5s', 'ms')).toBe(1500)
    // A string without a unit is milliseconds, as @lukeed/ms and @fastify/rate-limit read it.
    expect(durationIn('90000', 's')).toBe(90)
  })

  it('refuses rather than rounds', () => {
    expect(durationIn('0.5s', 's')).toBe('must be a whole number of seconds ("0.5s" is 500 ms)')
    expect(durationIn('1.5s', 's')).toMatch(/^must be a whole number of seconds/)
    expect(durationIn('1500ms', 's')).toMatch(/^must be a whole number of seconds/)
    expect(durationIn('90', 's')).toMatch(
      /^must be a whole number of seconds: a string without a unit is milliseconds/,
    )
    expect(durationIn('0.5ms', 'ms')).toMatch(/^must be a whole number of milliseconds/)
    expect(durationIn('0.0001ms', 'ms')).toMatch(/^must be a whole number of milliseconds/)
    expect(durationIn(1.5, 's')).toBe(
      'must be a positive integer (seconds) or a duration such as "1 minute"',
    )
    expect(durationIn(0.1, 'ms', { min: 0, max: 10 })).toBe(
      'must be an integer from 0 to 10 (milliseconds) or a duration such as "1 minute"',
    )
  })

  it('is positive unless the bounds allow 0', () => {
    for (const zero of [0, -0, '0', '0s', '0 ms', '0.0h']) {
      expect(durationIn(zero, 's')).toMatch(/^must be (a )?positive/)
      expect(durationIn(zero, 's', { min: 0 })).toBe(0)
      expect(Object.is(durationIn(zero, 's', { min: 0 }), -0)).toBe(false)
    }
    for (const negative of [-1, '-1s', '-1', '-0.5 hours']) {
      expect(durationIn(negative, 'ms')).toMatch(/^must be (a )?positive/)
      expect(durationIn(negative, 'ms', { min: 0 })).toMatch(/^must be (a non-negative|at least 0)/)
    }
    expect(durationIn(-1, 'ms')).toBe(
      'must be a positive integer (milliseconds) or a duration such as "1 minute"',
    )
    expect(durationIn('-1s', 'ms')).toBe('must be positive ("-1s" is -1000 milliseconds)')
    expect(durationIn('-1s', 's', { min: 0 })).toBe('must be at least 0 ("-1s" is -1 seconds)')
    expect(durationIn('5s', 's', { min: 10 })).toBe(
      'must be at least 10 seconds ("5s" is 5 seconds)',
    )
  })

  it('checks bounds after conversion, naming the unit and what the string came to', () => {
    expect(durationIn('1 hour', 's', { min: 1, max: 600 })).toBe(
      'must be from 1 to 600 seconds ("1 hour" is 3600 seconds)',
    )
    expect(durationIn('50ms', 'ms', { min: 100, max: 60_000 })).toBe(
      'must be from 100 to 60000 milliseconds ("50ms" is 50 milliseconds)',
    )
    expect(durationIn(601, 's', { max: 600 })).toBe(
      'must be an integer from 1 to 600 (seconds) or a duration such as "1 minute"',
    )
    expect(durationIn('10 minutes', 's', { max: 600 })).toBe(600)
    expect(durationIn('100ms', 'ms', { min: 100 })).toBe(100)
  })

  it('refuses huge values instead of losing precision', () => {
    for (const huge of [
      Number.MAX_SAFE_INTEGER + 1,
      1e300,
      Number.MAX_VALUE,
      '9007199254740993',
      '9007199254740992',
      '1000000000 years',
      `${'9'.repeat(60)}`,
      `${'9'.repeat(40)} y`,
    ]) {
      expect(durationIn(huge, 'ms')).toMatch(/^must be at most 9007199254740991 milliseconds/)
    }
    expect(durationIn(Number.MAX_SAFE_INTEGER, 'ms')).toBe(Number.MAX_SAFE_INTEGER)
    expect(durationIn('9007199254740991', 'ms')).toBe(Number.MAX_SAFE_INTEGER)
    // Far beyond 2^53 as a float, but exact in integers: refused, never rounded.
    expect(durationIn('9007199254740990.6ms', 'ms')).toMatch(/^must be a whole number/)
  })

  it('refuses numbers that are not finite and values of other types', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      expect(durationIn(bad, 's')).toMatch(/^must be a positive integer \(seconds\) or a duration/)
    }
    for (const bad of [
      null,
      undefined,
      true,
      {},
      [],
      [60],
      60n,
      Symbol('60'),
      () => 60,
      new Date(),
    ]) {
      expect(durationIn(bad, 's')).toMatch(/^must be a number of seconds or a duration string/)
    }
    // Not coerced: an object with a numeric valueOf or toString is not a duration.
    expect(durationIn({ valueOf: () => 60 }, 's')).toMatch(MESSAGE)
    expect(durationIn(new String('60s'), 's')).toMatch(MESSAGE)
    expect(durationIn(new Number(60), 's')).toMatch(MESSAGE)
  })

  it('shows at most a bounded piece of a long input', () => {
    const message = durationIn(`1${' '.repeat(10_000)}s`, 'ms') as string
    expect(message).toMatch(/^must be a duration such as /)
    expect(message.length).toBeLessThan(200)
  })
})
