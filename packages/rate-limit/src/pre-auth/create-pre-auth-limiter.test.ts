import { isPortcullisError } from '@portcullis/core'
import type { FastifyRequest } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createPreAuthLimiter, preAuthOf } from './create-pre-auth-limiter.js'

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
    expect(refused?.message).toBe('too many failed authentications from this address')
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

  it('keeps a fixed window: failures past the limit neither extend it nor grow Retry-After', () => {
    vi.useFakeTimers({ now: 2_000_000 })
    const limiter = createPreAuthLimiter({ max: 2, timeWindow: 10_000 })
    limiter.failed(from('192.0.2.1'))
    limiter.failed(from('192.0.2.1'))
    expect(limiter.check(from('192.0.2.1'))?.headers).toEqual({ 'Retry-After': '10' })
    vi.advanceTimersByTime(8_000)
    for (let i = 0; i < 5; i++) limiter.failed(from('192.0.2.1'))
    expect(limiter.check(from('192.0.2.1'))?.headers).toEqual({ 'Retry-After': '2' })
    vi.advanceTimersByTime(2_000)
    expect(limiter.check(from('192.0.2.1'))).toBeNull()
  })

  it('preAuthOf: on by default with rateLimit, off with preAuth: false or without rateLimit', () => {
    expect(preAuthOf(undefined)).toBeUndefined()
    expect(preAuthOf({ preAuth: false })).toBeUndefined()
    const byDefault = preAuthOf({})
    const custom = preAuthOf({ preAuth: { max: 1, timeWindow: '1 minute' } })
    for (const limiter of [byDefault, custom]) expect(limiter?.check(from('192.0.2.7'))).toBeNull()
    // The default allows 20 failures a minute; the custom one, one.
    custom!.failed(from('192.0.2.7'))
    expect(custom!.check(from('192.0.2.7'))).not.toBeNull()
    for (let i = 0; i < 19; i++) byDefault!.failed(from('192.0.2.7'))
    expect(byDefault!.check(from('192.0.2.7'))).toBeNull()
    byDefault!.failed(from('192.0.2.7'))
    expect(byDefault!.check(from('192.0.2.7'))?.headers).toEqual({ 'Retry-After': '60' })
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
