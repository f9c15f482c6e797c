import { describe, expect, it } from 'vitest'
import { formatWindow, timeWindowMs } from './time-window.js'

describe('durations, as @lukeed/ms reads them', () => {
  it.each([
    ['1 minute', 60_000],
    ['1m', 60_000],
    ['2 mins', 120_000],
    ['30s', 30_000],
    ['30 seconds', 30_000],
    ['1.5 hours', 5_400_000],
    ['1h', 3_600_000],
    ['1 day', 86_400_000],
    ['1w', 604_800_000],
    ['500', 500],
    ['500ms', 500],
    ['1 Minute', 60_000],
  ])('%s is %d ms', (text, ms) => {
    expect(timeWindowMs(text)).toBe(ms)
  })

  it.each(['soon', '', 'minute', '1 fortnight', '1 minute ago', '0'])('%j is not one', (text) => {
    expect(timeWindowMs(text)).toMatch(/^must be /)
  })
})

describe('timeWindow values', () => {
  it('accepts positive whole milliseconds only', () => {
    expect(timeWindowMs(1000)).toBe(1000)
    expect(timeWindowMs(' 1 minute ')).toBe(60_000)
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, '-1s', '0.5ms', 'soon', null, {}]) {
      expect(typeof timeWindowMs(bad)).toBe('string')
    }
  })

  it('is shown exactly, never rounded', () => {
    expect(formatWindow(60_000)).toBe('1 minute')
    expect(formatWindow(90_000)).toBe('90 seconds')
    expect(formatWindow(3_600_000)).toBe('1 hour')
    expect(formatWindow(172_800_000)).toBe('2 days')
    expect(formatWindow(1500)).toBe('1500 ms')
  })
})
