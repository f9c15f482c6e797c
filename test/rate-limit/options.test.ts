import { allowlistPlugin } from '@portcullis/allowlist'
import { isPortcullisError } from '@portcullis/core'
import { policyPlugin } from '@portcullis/policy'
import { createPreAuthLimiter, rateLimitPlugin } from '@portcullis/rate-limit'
import { rateLimitOptionsSchema } from '@portcullis/rate-limit/internal'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { limitedApp, readyError, type LimitedApp } from './helpers.js'

const open: FastifyInstance[] = []
let t: LimitedApp | undefined
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close().catch(() => undefined)))
  await t?.app.close().catch(() => undefined)
  t = undefined
})

async function registrationError(options: unknown): Promise<Error & Record<string, unknown>> {
  const app = Fastify()
  open.push(app)
  await app.register(policyPlugin)
  try {
    await app.register(rateLimitPlugin, options as never)
  } catch (err) {
    return err as Error & Record<string, unknown>
  }
  throw new Error('expected the registration to fail')
}

describe('plugin options', () => {
  it.each([
    [{ max: 0, timeWindow: 1000 }, 'rateLimit.max', 'must be a positive integer'],
    [{ max: 1.5, timeWindow: 1000 }, 'rateLimit.max', 'must be a positive integer'],
    [{ max: -1, timeWindow: 1000 }, 'rateLimit.max', 'must be a positive integer'],
    [{ max: '10', timeWindow: 1000 }, 'rateLimit.max', 'must be a positive integer'],
    [{ timeWindow: 1000 }, 'rateLimit.max', 'must be a positive integer'],
    [{ max: 10, timeWindow: 'soon' }, 'rateLimit.timeWindow', 'must be a duration'],
    [{ max: 10, timeWindow: 0 }, 'rateLimit.timeWindow', 'positive integer'],
    [{ max: 10, timeWindow: 1.5 }, 'rateLimit.timeWindow', 'positive integer'],
    [{ max: 10, timeWindow: '-1 minute' }, 'rateLimit.timeWindow', 'positive'],
    [{ max: 10, timeWindow: '0.5ms' }, 'rateLimit.timeWindow', 'whole number'],
    [{ max: 10 }, 'rateLimit.timeWindow', 'is required'],
    [{ max: 10, timeWindow: 1000, redis: 42 }, 'rateLimit.redis', 'ioredis client'],
    [{ max: 10, timeWindow: 1000, redis: {} }, 'rateLimit.redis', 'ioredis client'],
    [{ max: 10, timeWindow: 1000, redis: 'http://cache:6379' }, 'rateLimit.redis', 'redis://'],
    [{ max: 10, timeWindow: 1000, redis: 'not a url' }, 'rateLimit.redis', 'redis://'],
    [{ max: 10, timeWindow: 1000, maxx: 5 }, 'rateLimit.maxx', 'is not a known option'],
    [{ max: 10, timeWindow: 1000, key: 'user' }, 'rateLimit.key', '"principal", "client", "ip"'],
    [{ max: 10, timeWindow: 1000, onStoreError: 'open' }, 'rateLimit.onStoreError', 'fail-closed'],
    [{ max: 10, timeWindow: 1000, storeTimeout: 0 }, 'rateLimit.storeTimeout', 'from 1 to 60000'],
    [{ max: 10, timeWindow: 1000, cache: Infinity }, 'rateLimit.cache', 'from 1 to 10000000'],
    [{ max: 10, timeWindow: 1000, cache: 0 }, 'rateLimit.cache', 'from 1 to 10000000'],
    [{ max: 10, timeWindow: 1000, headers: 'yes' }, 'rateLimit.headers', 'x-ratelimit'],
    [{ max: 10, timeWindow: 1000, audit: 'log' }, 'rateLimit.audit', 'function'],
    [
      { max: 10, timeWindow: 1000, preAuth: { max: 5, timeWindow: 1000 } },
      'rateLimit.preAuth',
      'createPreAuthLimiter',
    ],
  ])('%j fails registration naming %s', async (options, field, message) => {
    const err = await registrationError(options)
    expect(isPortcullisError(err, 'PCL_INVALID_OPTIONS')).toBe(true)
    expect(err.field).toBe(field)
    expect(err.message).toContain(`${field}: `)
    expect(err.message).toContain(message)
  })

  it('refuses options that are not an object', async () => {
    const err = await registrationError(undefined)
    expect(isPortcullisError(err, 'PCL_INVALID_OPTIONS')).toBe(true)
  })

  it('needs the policy plugin', async () => {
    const app = Fastify()
    open.push(app)
    await expect(app.register(rateLimitPlugin, { max: 1, timeWindow: 1000 })).rejects.toThrow(
      /@portcullis\/policy/,
    )
  })

  it('rateLimitOptionsSchema validates the umbrella shape, preAuth included', () => {
    const parsed = rateLimitOptionsSchema.parse({
      max: 600,
      timeWindow: '1 minute',
      preAuth: { max: 20, timeWindow: '10 minutes' },
    })
    expect(parsed.timeWindow).toBe(60_000)
    expect(parsed.preAuth).toMatchObject({ timeWindow: 600_000 })
    expect(rateLimitOptionsSchema.parse({ max: 1, timeWindow: 1000, preAuth: false }).preAuth).toBe(
      false,
    )
    expect(
      rateLimitOptionsSchema.safeParse({ max: 1, timeWindow: 1000, preAuth: true }).success,
    ).toBe(false)
    expect(
      rateLimitOptionsSchema.safeParse({ max: 600, timeWindow: '1 minute', audit: () => {} })
        .success,
    ).toBe(false)
  })

  it.each([
    [{ max: 0, timeWindow: 1000 }, 'rateLimit.preAuth.max'],
    [{ max: 5, timeWindow: 'later' }, 'rateLimit.preAuth.timeWindow'],
    [{ max: 5, timeWindow: 1000, cache: -1 }, 'rateLimit.preAuth.cache'],
    [{ max: 5, timeWindow: 1000, ip: true }, 'rateLimit.preAuth.ip'],
  ])('createPreAuthLimiter(%j) throws naming %s', (options, field) => {
    let thrown: unknown
    try {
      createPreAuthLimiter(options)
    } catch (err) {
      thrown = err
    }
    expect(isPortcullisError(thrown, 'PCL_INVALID_OPTIONS')).toBe(true)
    expect(thrown).toMatchObject({ field })
  })
})

describe('guard.rateLimit', () => {
  it.each([
    [{ max: 0, timeWindow: 1000 }, 'guard.rateLimit.max', 'must be a positive integer'],
    [{ max: 2.5, timeWindow: 1000 }, 'guard.rateLimit.max', 'must be a positive integer'],
    [{ max: 5, timeWindow: 'soon' }, 'guard.rateLimit.timeWindow', 'must be a duration'],
    [{ max: 5 }, 'guard.rateLimit.timeWindow', 'is required'],
    [
      { max: 5, timeWindow: 1000, limit: 3 },
      'guard.rateLimit.limit',
      'is not a known rate-limit setting',
    ],
    [{ max: 5, timeWindow: 1000, key: 'session' }, 'guard.rateLimit.key', '"principal"'],
    [{ max: 5, timeWindow: 1000, bucket: '' }, 'guard.rateLimit.bucket', 'printable ASCII'],
    [{ max: 5, timeWindow: 1000, overrides: [] }, 'guard.rateLimit.overrides', 'at least one'],
    [
      { max: 5, timeWindow: 1000, overrides: [{ when: {}, max: 9 }] },
      'guard.rateLimit.overrides[0].when',
      'needs callers or scopes',
    ],
    [
      { max: 5, timeWindow: 1000, overrides: [{ when: { scopes: ['a'] }, max: 0 }] },
      'guard.rateLimit.overrides[0].max',
      'must be a positive integer',
    ],
    [false, 'guard.rateLimit', "{ exempt: '<reason>' }"],
    [null, 'guard.rateLimit', "{ exempt: '<reason>' }"],
    [100, 'guard.rateLimit', 'must be { max, timeWindow }'],
    [{ exempt: '   ' }, 'guard.rateLimit.exempt', 'non-empty reason'],
    [{ exempt: 'x', max: 3 }, 'guard.rateLimit.max', 'is not a known rate-limit setting'],
  ])('%j fails app.ready() naming the route and %s', async (rateLimit, field, message) => {
    t = await limitedApp((app) => {
      app.get(
        '/videos/:id',
        { config: { guard: { authenticated: true, rateLimit: rateLimit as never } } },
        () => 'ok',
      )
    })
    const err = await readyError(t.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.route).toBe('GET /videos/:id')
    expect(err.field).toBe(field)
    expect(err.message).toContain('GET /videos/:id: ')
    expect(err.message).toContain(field)
    expect(err.message).toContain(message)
    // Reported once, under the GET route, not again for the HEAD route Fastify adds.
    expect(err.routes).toEqual(['GET /videos/:id'])
  })

  it('public routes count by IP: another key or overrides are errors', async () => {
    t = await limitedApp((app) => {
      app.get(
        '/a',
        {
          config: {
            guard: { public: 'probe', rateLimit: { max: 1, timeWindow: 1000, key: 'principal' } },
          },
        },
        () => 'ok',
      )
      app.get(
        '/b',
        {
          config: {
            guard: {
              public: 'probe',
              rateLimit: {
                max: 1,
                timeWindow: 1000,
                overrides: [{ when: { callers: ['x'] }, max: 2 }],
              },
            },
          },
        },
        () => 'ok',
      )
    })
    const err = await readyError(t.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.routes).toEqual(['GET /a', 'GET /b'])
    expect(err.message).toContain("GET /a: guard.rateLimit.key must be 'ip'")
    expect(err.message).toContain(
      'GET /b: guard.rateLimit.overrides cannot be used on a public route',
    )
  })

  it('routes sharing a bucket must declare the same limit', async () => {
    t = await limitedApp((app) => {
      app.get(
        '/a',
        {
          config: {
            guard: {
              authenticated: true,
              rateLimit: { max: 5, timeWindow: '1 minute', bucket: 's' },
            },
          },
        },
        () => 'ok',
      )
      app.get(
        '/b',
        {
          config: {
            guard: { authenticated: true, rateLimit: { max: 5, timeWindow: 60_000, bucket: 's' } },
          },
        },
        () => 'ok',
      )
      app.get(
        '/c',
        {
          config: {
            guard: { authenticated: true, rateLimit: { max: 6, timeWindow: 60_000, bucket: 's' } },
          },
        },
        () => 'ok',
      )
    })
    const err = await readyError(t.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.route).toBe('GET /c')
    expect(err.field).toBe('guard.rateLimit.bucket')
    expect(err.message).toContain("bucket 's' is declared with another limit by GET /a")
  })

  it('routes declared between the policy and the rate-limit plugins fail startup', async () => {
    t = await limitedApp(
      (app) => {
        app.get('/after', { config: { guard: { authenticated: true } } }, () => 'ok')
      },
      {
        between: (app) => {
          app.get('/early', { config: { guard: { authenticated: true } } }, () => 'ok')
        },
      },
    )
    const err = await readyError(t.app)
    expect(isPortcullisError(err, 'PCL_UNGUARDED_ROUTE')).toBe(true)
    expect(err.routes).toEqual(['GET /early', 'HEAD /early'])
    expect(err.message).toContain('not rate limited')
  })

  const budgeted = {
    scopes: ['history:read'],
    budget: { unit: 'items', max: 10, timeWindow: '1 minute' },
    response: { allow: ['items[].id'] },
  } as const

  it('a budget without the allowlist plugin (nothing would charge it) fails startup', async () => {
    t = await limitedApp((app) => {
      app.get('/history', { config: { guard: budgeted } }, () => ({ items: [] }))
    })
    const err = await readyError(t.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.message).toContain('GET /history: guard.response needs @portcullis/allowlist')
  })

  it('a budget with the allowlist registered before the rate limit fails startup', async () => {
    t = await limitedApp(
      (app) => {
        app.get('/history', { config: { guard: budgeted } }, () => ({ items: [] }))
      },
      {
        between: (app) => {
          void app.register(allowlistPlugin)
        },
      },
    )
    const err = await readyError(t.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.message).toContain('GET /history: its egress budget would never be charged')
    expect(err.message).toContain('register rate-limit first')
  })

  it('in the umbrella order the same budget route starts and is charged', async () => {
    t = await limitedApp((app) => {
      void app.register(allowlistPlugin)
      app.after(() => {
        app.get('/history', { config: { guard: budgeted } }, () => ({
          items: Array.from({ length: 6 }, (_, id) => ({ id })),
        }))
      })
    })
    await t.app.ready()
    const codes: number[] = []
    for (let i = 0; i < 3; i++) {
      codes.push((await t.call('/history', { scope: 'history:read' })).statusCode)
    }
    // 6 items, then 12 (served, overdraw 'serve'), then spent.
    expect(codes).toEqual([200, 200, 429])
  })
})
