import { isPortcullisError } from '@portcullis/core'
import type { FastifyRequest } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createPreAuthLimiter } from './create-pre-auth-limiter.js'

const from = (ip: string) => ({ ip }) as FastifyRequest

afterEach(() => {
  vi.useRealTimers()
})

describe('createPreAuthLimiter', () => {
  it('refuses an address once max failures were counted in the window', () => {
    const limiter = createPreAuthLimiter({ max: 2, timeWindow: '1 minute' })
    expect(limiter.check(from('192.0.2.1'))).toBeNull()
    limiter.failed(from('192.0.2.1'))
    expect(limiter.check(from('192.0.2.1'))).toBeNull()
    limiter.failed(from('192.0.2.1'))
    const refused = limiter.check(from('192.0.2.1'))
    expect(isPortcullisError(refused, 'PCL_RATE_LIMITED')).toBe(true)
    expect(refused?.status).toBe(429)
    expect(refused?.headers).toEqual({ 'Retry-After': '60' })
    expect(limiter.check(from('192.0.2.2'))).toBeNull()
  })

  it('counts IPv6 addresses per /64 and IPv4-mapped addresses as IPv4', () => {
    const limiter = createPreAuthLimiter({ max: 2, timeWindow: 10_000 })
    limiter.failed(from('2001:db8::1'))
    limiter.failed(from('2001:db8::ffff'))
    expect(limiter.check(from('2001:db8::abc'))).not.toBeNull()
    expect(limiter.check(from('2001:db8:0:1::1'))).toBeNull()
    limiter.failed(from('::ffff:192.0.2.9'))
    limiter.failed(from('192.0.2.9'))
    expect(limiter.check(from('192.0.2.9'))).not.toBeNull()
  })

  it('reads no address while no window holds a failure, and every address once one may', () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const limiter = createPreAuthLimiter({ max: 1, timeWindow: 10_000 })
    let reads = 0
    const counted = (ip: string) =>
      ({
        get ip() {
          reads++
          return ip
        },
      }) as FastifyRequest
    // Nothing failed yet: the address is not even read.
    expect(limiter.check(counted('192.0.2.1'))).toBeNull()
    expect(reads).toBe(0)
    vi.advanceTimersByTime(4_000)
    limiter.failed(from('192.0.2.1'))
    expect(limiter.check(counted('192.0.2.1'))).not.toBeNull()
    expect(limiter.check(counted('192.0.2.2'))).toBeNull()
    expect(reads).toBe(2)
    // A second address fails later: its window outlives the first one's.
    vi.advanceTimersByTime(5_000)
    limiter.failed(from('192.0.2.2'))
    vi.advanceTimersByTime(5_000)
    // The first window is over (started at 4 s, 10 s long); the second is not.
    expect(limiter.check(counted('192.0.2.1'))).toBeNull()
    expect(limiter.check(counted('192.0.2.2'))).not.toBeNull()
    // The last one at its last millisecond, then over: the address is no longer read.
    vi.advanceTimersByTime(4_999)
    expect(limiter.check(counted('192.0.2.2'))).not.toBeNull()
    vi.advanceTimersByTime(1)
    const before = reads
    expect(limiter.check(counted('192.0.2.2'))).toBeNull()
    expect(reads).toBe(before)
  })

  it('tracks at most `cache` addresses', () => {
    const limiter = createPreAuthLimiter({ max: 1, timeWindow: 10_000, cache: 10 })
    limiter.failed(from('192.0.2.1'))
    expect(limiter.check(from('192.0.2.1'))).not.toBeNull()
    for (let i = 0; i < 20; i++) limiter.failed(from(`198.51.100.${i}`))
    // Evicted: bounded memory is worth a fresh window for the oldest address.
    expect(limiter.check(from('192.0.2.1'))).toBeNull()
  })
})
