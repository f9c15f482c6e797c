import { describe, expect, it } from 'vitest'
import { durationSchema } from '@portcullis/tokens/internal'
import { timeWindowSchema } from './schema-parts.js'
import { formatWindow } from './time-window.js'

// The grammar itself is tested with `durationIn` in @portcullis/core (duration.test.ts).
function windowOf(value: unknown): number | string {
  const parsed = timeWindowSchema.safeParse(value)
  return parsed.success ? parsed.data : parsed.error.issues.map((i) => i.message).join('; ')
}

describe('timeWindow', () => {
  it.each([
    ['1 minute', 60_000],
    ['1m', 60_000],
    ['2 mins', 120_000],
    ['30s', 30_000],
    ['1.5 hours', 5_400_000],
    ['1.1 hours', 3_960_000],
    ['1 day', 86_400_000],
    ['500', 500],
    ['500ms', 500],
    [' 1 minute ', 60_000],
    [1000, 1000],
  ])('%j is %d ms', (value, ms) => {
    expect(windowOf(value)).toBe(ms)
  })

  it.each([
    'soon',
    '',
    'minute',
    '1 fortnight',
    '1 minute ago',
    '0',
    '-1s',
    '0.5ms',
    0,
    -1,
    1.5,
    Number.NaN,
    Infinity,
    null,
    {},
  ])('%j is not a window', (value) => {
    expect(windowOf(value)).toMatch(/^must be /)
  })

  it('is required', () => {
    expect(windowOf(undefined)).toMatch(/^is required: milliseconds or a duration/)
  })
})

// `storeTimeout` uses the duration schema of @portcullis/tokens, in milliseconds.
describe('durationSchema in milliseconds', () => {
  it('checks the bounds after conversion', () => {
    const schema = durationSchema('ms', 1, 60_000)
    expect(schema.parse('250ms')).toBe(250)
    expect(schema.parse('1 minute')).toBe(60_000)
    expect(schema.safeParse('2 minutes').error?.issues[0]?.message).toBe(
      'must be from 1 to 60000 milliseconds ("2 minutes" is 120000 milliseconds)',
    )
    expect(schema.safeParse(0).error?.issues[0]?.message).toBe(
      'must be an integer from 1 to 60000 (milliseconds) or a duration such as "1 minute"',
    )
  })
})

describe('formatWindow', () => {
  it('is shown exactly, never rounded', () => {
    expect(formatWindow(60_000)).toBe('1 minute')
    expect(formatWindow(90_000)).toBe('90 seconds')
    expect(formatWindow(3_600_000)).toBe('1 hour')
    expect(formatWindow(172_800_000)).toBe('2 days')
    expect(formatWindow(1500)).toBe('1500 ms')
  })
})
