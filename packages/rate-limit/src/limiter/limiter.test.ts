import { isPortcullisError, type Principal } from '@portcullis/core'
import { describe, expect, it, vi } from 'vitest'
import {
  keyFailure,
  setLimitHeaders,
  rateLimited,
  storeAnswered,
  storeFailure,
} from './limit-outcomes.js'
import { maxOf, type LimitSpec } from './limit-spec.js'
import { ipKey, keyOf, keyPerPrincipal } from './request-keys.js'

// The limiter's pieces framework-free: counting keys, per-principal maxima, the outcomes of a
// count. test/rate-limit and test/express/rate-limit run them over real requests.

function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    subject: 'user-1',
    issuer: 'https://auth.test',
    clientId: 'app-1',
    scopes: new Set(['videos:read']),
    claims: {},
    ...overrides,
  }
}

function log() {
  return { info: vi.fn(), warn: vi.fn(), error: vi.fn() }
}

describe('ipKey', () => {
  it('counts IPv4 as is, IPv6 per /64, IPv4-mapped IPv6 as its IPv4 address', () => {
    expect(ipKey('203.0.113.7')).toBe('203.0.113.7')
    expect(ipKey('2001:db8:1:2::1')).toBe(ipKey('2001:db8:1:2:ffff:ffff:ffff:ffff'))
    expect(ipKey('2001:db8:1:2::1')).not.toBe(ipKey('2001:db8:1:3::1'))
    expect(ipKey('::ffff:203.0.113.7')).toBe('203.0.113.7')
  })

  it('an unknown address is one key; what is no IPv6 address is compared without case', () => {
    expect(ipKey(undefined)).toBe('unknown')
    expect(ipKey('')).toBe('unknown')
    expect(ipKey('Some:Socket')).toBe('some:socket')
  })
})

describe('keyOf', () => {
  const request = (p: Principal | null, ip = '203.0.113.7') => ({ principal: p, ip, native: {} })

  it('tags each kind of key, so a subject that looks like an IP never shares its count', () => {
    const lookalike = principal({ subject: '203.0.113.7' })
    const keys = [
      keyOf('ip')(request(lookalike)),
      keyOf('principal')(request(lookalike)),
      keyOf('client')(request(lookalike)),
      keyOf(() => '203.0.113.7')(request(lookalike)),
    ]
    expect(new Set(keys).size).toBe(4)
    expect(keys).toEqual([
      'i\x00203.0.113.7',
      'p\0https://auth.test\x00203.0.113.7',
      'c\0https://auth.test\0app-1',
      'f\x00203.0.113.7',
    ])
  })

  it('without a principal every key counts by IP; a principal without a client by principal', () => {
    for (const key of ['ip', 'principal', 'client', () => 'k'] as const) {
      expect(keyOf(key)(request(null))).toBe('i\x00203.0.113.7')
    }
    expect(keyOf('client')(request(principal({ clientId: null })))).toBe(
      'p\0https://auth.test\0user-1',
    )
  })

  it('a key function gets the principal and the native request, and must return a non-blank string', () => {
    const native = { url: '/v1' }
    const seen = vi.fn(() => 'tenant-1')
    const p = principal()
    expect(keyOf(seen)({ principal: p, ip: undefined, native })).toBe('f\0tenant-1')
    expect(seen).toHaveBeenCalledWith(p, native)
    // Refused with a message that tells the developer what the function returned.
    for (const [value, message] of [
      [42, /returned number, not a string/],
      [undefined, /returned undefined, not a string/],
      ['', /returned an empty string/],
      ['   ', /returned an empty string/],
    ] as const) {
      expect(() => keyOf(() => value as string)(request(p))).toThrow(message)
    }
  })
})

describe('keyPerPrincipal', () => {
  const request = (p: Principal | null) => ({ principal: p, ip: '203.0.113.7', native: {} })

  it('builds a principal key once per run of one principal, and each principal its own key', () => {
    const build = vi.fn(keyOf('principal'))
    const keyOfRequest = keyPerPrincipal('principal', build)
    const alice = Object.freeze(principal({ subject: 'alice' }))
    const bob = Object.freeze(principal({ subject: 'bob' }))
    expect(keyOfRequest(request(alice))).toBe('p\0https://auth.test\0alice')
    expect(keyOfRequest(request(alice))).toBe('p\0https://auth.test\0alice')
    expect(build).toHaveBeenCalledTimes(1)
    // Interleaved callers never get each other's key.
    expect(keyOfRequest(request(bob))).toBe('p\0https://auth.test\0bob')
    expect(keyOfRequest(request(alice))).toBe('p\0https://auth.test\0alice')
    // Another principal object for the same subject (a new token) is keyed by what it holds.
    expect(keyOfRequest(request(principal({ subject: 'bob', clientId: 'app-2' })))).toBe(
      'p\0https://auth.test\0bob',
    )
    expect(keyOfRequest(request(null))).toBe('i\x00203.0.113.7')
    expect(build).toHaveBeenCalledTimes(5)
  })

  it('a key that failed to build is not remembered; IP keys and key functions run every time', () => {
    const alice = principal({ subject: 'alice' })
    let fail = true
    const keyOfRequest = keyPerPrincipal('client', (r) => {
      if (fail) throw new TypeError('store unavailable')
      return keyOf('client')(r)
    })
    expect(() => keyOfRequest(request(alice))).toThrow('store unavailable')
    fail = false
    expect(keyOfRequest(request(alice))).toBe('c\0https://auth.test\0app-1')
    const custom = keyOf(() => 'k')
    expect(keyPerPrincipal(() => 'k', custom)).toBe(custom)
    const byIp = keyOf('ip')
    expect(keyPerPrincipal('ip', byIp)).toBe(byIp)
  })
})

describe('maxOf', () => {
  const spec = (overrides: LimitSpec['overrides']): LimitSpec => ({
    max: 10,
    timeWindow: 60_000,
    key: 'principal',
    bucket: null,
    overrides,
  })

  it('the first override whose callers and scopes the principal meets, else max', () => {
    const max = maxOf(
      spec([
        { callers: ['batch'], scopes: null, max: 1000 },
        { callers: null, scopes: ['videos:read', 'videos:bulk'], max: 100 },
        { callers: ['app-1'], scopes: ['videos:read'], max: 50 },
      ]),
    )
    expect(max(principal({ clientId: 'batch' }))).toBe(1000)
    expect(max(principal({ scopes: new Set(['videos:read', 'videos:bulk']) }))).toBe(100)
    // One of two scopes is not enough.
    expect(max(principal({ clientId: 'other', scopes: new Set(['videos:bulk']) }))).toBe(10)
    expect(max(principal())).toBe(50)
    expect(max(principal({ clientId: null }))).toBe(10)
    expect(max(null)).toBe(10)
    expect(max(undefined)).toBe(10)
  })

  it('without overrides, max for everyone', () => {
    expect(maxOf(spec([]))(principal({ clientId: 'batch' }))).toBe(10)
  })
})

describe('limit outcomes', () => {
  it('headers: the limit, what remains (never negative), the seconds to the reset (rounded up)', () => {
    const names = { limit: 'l', remaining: 'r', reset: 's' }
    const limitHeaders = (max: number, current: number, ttl: number) => {
      const set: [string, number][] = []
      setLimitHeaders(names, max, current, ttl, { setHeader: (n, v) => void set.push([n, v]) })
      return set
    }
    expect(limitHeaders(10, 3, 1500)).toEqual([
      ['l', 10],
      ['r', 7],
      ['s', 2],
    ])
    expect(limitHeaders(10, 10, 0)[1]).toEqual(['r', 0])
    expect(limitHeaders(10, 12, -1500)).toEqual([
      ['l', 10],
      ['r', 0],
      ['s', 0],
    ])
  })

  it('a 429 says to retry after whole seconds, at least one', () => {
    expect(rateLimited(1500).headers).toEqual({ 'Retry-After': '2' })
    expect(rateLimited(0).headers).toEqual({ 'Retry-After': '1' })
    expect(rateLimited(0).code).toBe('PCL_RATE_LIMITED')
  })

  it('a store outage is logged once, refused (fail-closed) or served (fail-open), and its end once', () => {
    const health = { down: false }
    const l = log()
    const cause = new Error('ECONNREFUSED')
    const refusal = storeFailure(health, 'fail-closed', l, cause)
    expect(isPortcullisError(refusal) && refusal.code).toBe('PCL_STORE_UNAVAILABLE')
    expect(refusal?.cause).toBe(cause)
    expect(storeFailure(health, 'fail-closed', l, cause)).not.toBeNull()
    expect(l.warn).toHaveBeenCalledTimes(1)
    expect(l.warn).toHaveBeenCalledWith(
      { err: cause, code: 'PCL_STORE_UNAVAILABLE' },
      expect.stringMatching(/refusing requests with 503/),
    )
    storeAnswered(health, l)
    storeAnswered(health, l)
    expect(health.down).toBe(false)
    expect(l.info).toHaveBeenCalledTimes(1)
    expect(l.info).toHaveBeenCalledWith({}, expect.stringMatching(/answering again/))

    const open = log()
    expect(storeFailure({ down: false }, 'fail-open', open, cause)).toBeNull()
    expect(open.warn).toHaveBeenCalledWith(
      { err: cause, code: 'PCL_STORE_UNAVAILABLE' },
      expect.stringMatching(/UNLIMITED/),
    )
  })

  it('a key function that throws is logged as an error and refused', () => {
    const l = log()
    const cause = new Error('bug')
    const refusal = keyFailure(l, cause)
    expect(refusal).toMatchObject({ code: 'PCL_STORE_UNAVAILABLE', cause })
    expect(refusal.message).toMatch(/key function/)
    expect(l.error).toHaveBeenCalledWith({ err: cause }, expect.stringMatching(/key function/))
  })
})
