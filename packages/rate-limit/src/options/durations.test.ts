import { isPortcullisConfigError, type PortcullisConfigError } from '@portcullis/core'
import type { FastifyRequest } from 'fastify'
import { describe, expect, it } from 'vitest'
import { createPreAuthLimiter } from '../pre-auth/create-pre-auth-limiter.js'
import { rateLimitOptionsSchema } from './options-schema.js'
import { resolveRateLimitOptions } from './resolve-options.js'

// `timeWindow` and `storeTimeout` take milliseconds or a duration string in the one grammar of
// `durationIn` (@portcullis/core), and resolve to milliseconds.

function errorOf(run: () => unknown): PortcullisConfigError {
  try {
    run()
  } catch (err) {
    if (isPortcullisConfigError(err)) return err
    throw err
  }
  throw new Error('expected a PortcullisConfigError')
}

describe('time options of rate-limit', () => {
  it('resolve duration strings to milliseconds', () => {
    const resolved = resolveRateLimitOptions({
      max: 10,
      timeWindow: '1.5 hours',
      storeTimeout: '1s',
    })
    expect(resolved.defaults.timeWindow).toBe(5_400_000)
    expect(resolved.storeTimeout).toBe(1000)
    expect(resolveRateLimitOptions({ max: 10, timeWindow: 2000, storeTimeout: 300 })).toMatchObject(
      { defaults: { timeWindow: 2000 }, storeTimeout: 300 },
    )
    expect(resolveRateLimitOptions({ max: 10, timeWindow: '1 minute' }).storeTimeout).toBe(250)
  })

  it('resolve them in the umbrella schema, preAuth included', () => {
    const parsed = rateLimitOptionsSchema.parse({
      max: 10,
      timeWindow: '30s',
      storeTimeout: '250ms',
      preAuth: { max: 5, timeWindow: '2d' },
    })
    expect(parsed).toMatchObject({
      timeWindow: 30_000,
      storeTimeout: 250,
      preAuth: { timeWindow: 172_800_000 },
    })
  })

  it.each([
    [{ storeTimeout: '2 minutes' }, 'rateLimit.storeTimeout', /from 1 to 60000 milliseconds/],
    [{ storeTimeout: '0.5ms' }, 'rateLimit.storeTimeout', /whole number of milliseconds/],
    [{ storeTimeout: 0 }, 'rateLimit.storeTimeout', /an integer from 1 to 60000 \(milliseconds\)/],
    [{ storeTimeout: 'soon' }, 'rateLimit.storeTimeout', /must be a duration such as/],
    [{ timeWindow: '0.5ms' }, 'rateLimit.timeWindow', /whole number of milliseconds/],
    [{ timeWindow: '1 minute ago' }, 'rateLimit.timeWindow', /must be a duration such as/],
    [{ timeWindow: '0s' }, 'rateLimit.timeWindow', /must be positive \("0s" is 0 milliseconds\)/],
  ])('%j -> %s', (options, field, message) => {
    const err = errorOf(() => resolveRateLimitOptions({ max: 10, timeWindow: 1000, ...options }))
    expect(err.code).toBe('PCL_INVALID_OPTIONS')
    expect(err.field).toBe(field)
    expect(err.message).toContain(`${field}: `)
    expect(err.message).toMatch(message)
  })

  it('the pre-auth window takes a duration too', () => {
    const limiter = createPreAuthLimiter({ max: 1, timeWindow: '90s' })
    const request = { ip: '192.0.2.1' } as FastifyRequest
    limiter.failed(request)
    expect(limiter.check(request)?.headers).toEqual({ 'Retry-After': '90' })
    const err = errorOf(() => createPreAuthLimiter({ max: 1, timeWindow: '1.5ms' }))
    expect(err.field).toBe('rateLimit.preAuth.timeWindow')
  })
})
