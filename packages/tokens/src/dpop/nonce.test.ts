import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createDpopNonces } from './nonce.js'

describe('createDpopNonces (RFC 9449 §9)', () => {
  const secret = new TextEncoder().encode('k'.repeat(32))
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('hands out one nonce per time step, made of NQCHARs, that it accepts until its lifetime ends', () => {
    const nonces = createDpopNonces({ secret, lifetime: 60 })
    const nonce = nonces.current()
    expect(nonce).toMatch(/^[\x21\x23-\x5b\x5d-\x7e]+$/)
    expect(nonces.current()).toBe(nonce)
    expect(nonces.accepts(nonce)).toBe(true)
    vi.advanceTimersByTime(16_000)
    expect(nonces.current()).not.toBe(nonce)
    expect(nonces.accepts(nonce)).toBe(true)
    // Accepted for exactly `lifetime` seconds after its issue time, not one second more.
    vi.advanceTimersByTime(44_000)
    expect(nonces.accepts(nonce)).toBe(true)
    vi.advanceTimersByTime(1000)
    expect(nonces.accepts(nonce)).toBe(false)
  })

  it('dates a nonce at the start of its quarter-lifetime step, and keeps it for the whole step', () => {
    const nonces = createDpopNonces({ secret, lifetime: 60 })
    const start = Math.floor(Date.now() / 1000)
    vi.advanceTimersByTime(7000)
    const nonce = nonces.current()
    expect(nonce.split('.')[0]).toBe(String(start))
    vi.advanceTimersByTime(7000)
    expect(nonces.current()).toBe(nonce)
    vi.advanceTimersByTime(1000)
    expect(nonces.current().split('.')[0]).toBe(String(start + 15))
  })

  it('accepts a nonce from an instance one step ahead, and none from further ahead', () => {
    const start = Date.now()
    const ahead = createDpopNonces({ secret, lifetime: 60 })
    vi.setSystemTime(start + 15_000)
    const oneStep = ahead.current()
    vi.setSystemTime(start + 16_000)
    const later = ahead.current()
    vi.setSystemTime(start + 3_600_000)
    const anHour = ahead.current()
    vi.setSystemTime(start)
    const b = createDpopNonces({ secret, lifetime: 60 })
    expect(b.accepts(oneStep)).toBe(true)
    expect(b.accepts(later)).toBe(true)
    expect(b.accepts(anHour)).toBe(false)
    vi.setSystemTime(start - 1000)
    expect(b.accepts(oneStep)).toBe(false)
  })

  it('refuses a valid nonce wrapped in an array (a JSON claim that stringifies to it)', () => {
    const nonces = createDpopNonces({ secret, lifetime: 60 })
    expect(nonces.accepts([nonces.current()])).toBe(false)
  })

  it('accepts the nonces of an instance sharing the secret, and nothing forged', () => {
    const a = createDpopNonces({ secret, lifetime: 60 })
    const b = createDpopNonces({ secret, lifetime: 60 })
    const foreign = createDpopNonces({ secret: new Uint8Array(32), lifetime: 60 })
    expect(b.accepts(a.current())).toBe(true)
    expect(b.accepts(foreign.current())).toBe(false)
    const [at = '', mac = ''] = a.current().split('.')
    // Another time under the same MAC, a future nonce, garbage.
    expect(b.accepts(`${Number(at) - 15}.${mac}`)).toBe(false)
    expect(b.accepts(`${Number(at) + 3600}.${mac}`)).toBe(false)
    for (const value of [undefined, 42, '', 'x', `${at}.${mac}x`, `${at}.${'A'.repeat(22)}`]) {
      expect(b.accepts(value)).toBe(false)
    }
  })
})
