import { describe, expect, it } from 'vitest'
import { toSeconds } from './time-span.js'

describe('toSeconds', () => {
  it.each<[number | string, number]>([
    [90, 90],
    [1.4, 1],
    ['30s', 30],
    ['5m', 300],
    ['5 minutes', 300],
    ['2h', 7200],
    ['1.5 hours', 5400],
    ['1d', 86_400],
    ['1w', 604_800],
    ['1y', 31_557_600],
    ['-10s', -10],
    ['1h ago', -3600],
    ['1h from now', 3600],
    ['+2 mins', 120],
  ])('%s is %i seconds', (span, seconds) => {
    expect(toSeconds(span)).toBe(seconds)
  })

  it.each<number | string>(['', 'soon', '5 parsecs', '-1h ago', Number.NaN, Infinity])(
    'rejects %s',
    (span) => {
      expect(() => toSeconds(span)).toThrow(TypeError)
    },
  )
})
