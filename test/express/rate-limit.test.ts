import { setTimeout as sleep } from 'node:timers/promises'
import { isPortcullisError, type PortcullisExpressOptions } from '@portcullis/express'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { expectLimitOutcome, expectLimitStep, fetched } from '../cases/checks.js'
import { limitCases } from '../cases/rate-limits.js'
import { runClusterTests, useRedisCluster } from '../rate-limit/redis-cluster.js'
import { RedisServer, runRedisTests } from '../rate-limit/redis-server.js'
import { guardedExpress, thrown, type GuardedExpress, type Reply } from './helpers.js'

let issuer: TestIssuer
beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
})

const open: GuardedExpress[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()))
})

type RateLimit = NonNullable<PortcullisExpressOptions['rateLimit']>

/** An app whose handlers count their runs; `call` mints (and reuses) a token per set of claims. */
async function limited(
  routes: Parameters<typeof guardedExpress>[0],
  rateLimit: Partial<RateLimit> = {},
  extra: Partial<PortcullisExpressOptions> = {},
) {
  const h = await guardedExpress(routes, {
    issuer,
    portcullis: { rateLimit: { max: 3, timeWindow: '1 minute', ...rateLimit }, ...extra },
  })
  open.push(h)
  const tokens = new Map<string, string>()
  return {
    ...h,
    async call(
      url: string,
      claims: Record<string, unknown> | null,
      method = 'GET',
    ): Promise<Reply> {
      let headers = {}
      if (claims !== null) {
        const id = JSON.stringify(claims)
        let token = tokens.get(id)
        if (token === undefined) {
          token = await issuer.token(claims)
          tokens.set(id, token)
        }
        headers = bearer(token)
      }
      return h.request(url, { method, headers })
    },
  }
}

// The limits of the Fastify suite (test/cases/rate-limits.ts), against the Express adapter.
describe('the shared limit cases', () => {
  it.each(limitCases)('$name', async ({ rateLimit, routes, steps, runs, denials, inventory }) => {
    let ran = 0
    const t = await limited((app, guard) => {
      for (const { method = 'GET', path, guard: routeGuard } of routes) {
        app[method === 'GET' ? 'get' : 'post'](path, guard(routeGuard), (_req, res) => {
          ran++
          res.send('ok')
        })
      }
    }, rateLimit)
    for (const [i, step] of steps.entries()) {
      expectLimitStep(fetched(await t.call(step.url, step.claims, step.method)), step, i)
    }
    expectLimitOutcome(
      { runs, denials, inventory },
      { runs: ran, events: t.events, routes: t.guard.routes() },
    )
  })
})

describe('Express specifics', () => {
  it('a 429 is audited with the route template, subject and client', async () => {
    const t = await limited(
      (app, guard) => {
        app.get('/v/:id', guard({ authenticated: true }), (_req, res) => res.send('ok'))
      },
      { max: 1 },
    )
    const alice = { sub: 'alice', client_id: 'player-svc' }
    await t.call('/v/1', alice)
    expect((await t.call('/v/2', alice)).status).toBe(429)
    expect(t.events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_RATE_LIMITED',
      status: 429,
      route: '/v/:id',
      subject: 'alice',
      clientId: 'player-svc',
    })
  })

  it('preAuth throttles failed authentications per address before any verification', async () => {
    const t = await limited(
      (app, guard) => {
        app.get('/v', guard({ authenticated: true }), (_req, res) => res.send('ok'))
      },
      { preAuth: { max: 2, timeWindow: '1 minute' } },
    )
    const forged = bearer(await issuer.bad.wrongKey({ sub: 'x' }))
    const codes: number[] = []
    for (let i = 0; i < 3; i++) codes.push((await t.request('/v', { headers: forged })).status)
    expect(codes).toEqual([401, 401, 429])
    const valid = await t.request('/v', { headers: bearer(await issuer.token({ sub: 'u' })) })
    expect(valid.status).toBe(429)
    expect(valid.headers.get('retry-after')).toBe('60')
  })

  it('guard.rateLimit without the rateLimit option is refused, naming the field', async () => {
    const h = await guardedExpress(() => undefined, { seal: false, issuer })
    open.push(h)
    const err = thrown(() =>
      h.guard({ authenticated: true, rateLimit: { max: 1, timeWindow: 1000 } }),
    )
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe('guard.rateLimit')
    expect(err.message).toMatch(
      /guard\.rateLimit needs a rate limiter: add the rateLimit option to createGuard \(e\.g\. rateLimit: \{ max: 600/,
    )
  })

  it('two limits on one bucket are refused, naming both guards', async () => {
    const t = await limited(() => undefined)
    t.guard({ authenticated: true, rateLimit: { max: 3, timeWindow: 1000, bucket: 'search' } })
    const err = thrown(() =>
      t.guard({ authenticated: true, rateLimit: { max: 4, timeWindow: 1000, bucket: 'search' } }),
    )
    expect(err.field).toBe('guard.rateLimit.bucket')
    expect(err.message).toMatch(/guard\(\) at test\/express\/rate-limit\.test\.ts:\d+:\d+/)
  })

  it.each([
    ['max', { max: 0 }, /rateLimit\.max: must be a positive integer/],
    ['timeWindow', { timeWindow: 'soon' }, /rateLimit\.timeWindow/],
    ['redis', { redis: 'http://localhost' }, /rateLimit\.redis/],
    ['an unknown key', { maximum: 3 }, /rateLimit\.maximum: is not a known option/],
  ])('invalid rateLimit options are refused: %s', async (_name, bad, message) => {
    const err: unknown = await limited(() => undefined, bad as never).then(
      () => new Error('expected createGuard to throw'),
      (e: unknown) => e,
    )
    expect(isPortcullisError(err, 'PCL_INVALID_OPTIONS')).toBe(true)
    expect((err as Error).message).toMatch(message)
  })
})

// A real redis-server on a loopback port, as in the Fastify suite; skipped without one unless
// PORTCULLIS_REQUIRE_REDIS=1 makes its absence a failure.
describe.runIf(runRedisTests)('Redis store (rate-limit-redis)', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await RedisServer.start()
  })
  afterAll(async () => {
    await redis?.stop()
  })
  const clients: Redis[] = []
  afterEach(async () => {
    clients.splice(0).forEach((client) => client.disconnect())
    await redis.restart()
    await redis.send('FLUSHALL')
  })

  const alice = { sub: 'alice', client_id: 'player-svc' }

  async function app(rateLimit: Partial<RateLimit>) {
    const t = await limited(
      (instance, guard) => {
        instance.get('/v/:id', guard({ authenticated: true }), (_req, res) => res.send('ok'))
      },
      { max: 5, redis: redis.url, ...rateLimit },
    )
    await t.guard.ready()
    return t
  }

  /** Calls until Redis counts again: a counted response carries the RateLimit headers. */
  async function untilCounted(t: Awaited<ReturnType<typeof app>>): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const res = await t.call('/v/1', { sub: `probe-${attempt}` })
      if (res.status === 200 && res.headers.get('ratelimit-limit') !== null) return
      await sleep(50)
    }
    throw new Error('the app did not recover after Redis came back')
  }

  it('two instances on one Redis allow exactly max requests together for one principal', async () => {
    const one = await app({})
    const two = await app({})
    const codes: number[] = []
    for (let i = 0; i < 8; i++)
      codes.push((await (i % 2 === 0 ? one : two).call('/v/1', alice)).status)
    expect(codes.filter((c) => c === 200)).toHaveLength(5)
    expect(codes.slice(5)).toEqual([429, 429, 429])
    const probe = new Redis(redis.url)
    clients.push(probe)
    const keys = await probe.keys('portcullis:rl:*')
    expect(keys.length).toBeGreaterThan(0)
  })

  it('accepts an ioredis client and leaves it open on close', async () => {
    const client = new Redis(redis.url)
    clients.push(client)
    const t = await app({ redis: client })
    expect((await t.call('/v/1', alice)).status).toBe(200)
    await t.close()
    open.splice(open.indexOf(t), 1)
    expect(client.status).toBe('ready')
  })

  it('fail-closed (default): Redis stopped mid-run answers 503, then recovers', async () => {
    const t = await app({ storeTimeout: 200 })
    expect((await t.call('/v/1', alice)).status).toBe(200)
    await redis.stop()
    const down = await t.call('/v/1', alice)
    expect(down.status).toBe(503)
    expect(down.json()).toMatchObject({ code: 'PCL_STORE_UNAVAILABLE' })
    expect(t.logs.filter((l) => l.includes('rate-limit store unavailable'))).toHaveLength(1)
    await redis.restart()
    await untilCounted(t)
    expect(t.logs.some((l) => l.includes('answering again'))).toBe(true)
  })

  it('a Redis that was down at startup works once it is up (scripts load on first use)', async () => {
    await redis.stop()
    const t = await limited(
      (instance, guard) => {
        instance.get('/v/:id', guard({ authenticated: true }), (_req, res) => res.send('ok'))
      },
      { max: 5, redis: redis.url, storeTimeout: 200 },
    )
    await t.guard.ready()
    expect((await t.call('/v/1', alice)).status).toBe(503)
    await redis.restart()
    await untilCounted(t)
  })

  it('fail-open: serves during the outage with an audit event, then limits again', async () => {
    const t = await app({ onStoreError: 'fail-open', storeTimeout: 200 })
    await redis.stop()
    const res = await t.call('/v/1', alice)
    expect(res.status).toBe(200)
    expect(t.events.at(-1)).toMatchObject({ decision: 'allow', reason: 'PCL_STORE_UNAVAILABLE' })
    expect(t.logs.join('')).toMatch(/UNLIMITED/)
    await redis.restart()
    await untilCounted(t)
  })

  it('a Redis slower than storeTimeout (CLIENT PAUSE) counts as an outage', async () => {
    const t = await app({ storeTimeout: 100 })
    expect((await t.call('/v/1', alice)).status).toBe(200)
    await redis.send('CLIENT PAUSE 1000')
    const res = await t.call('/v/1', alice)
    expect(res.status).toBe(503)
    await sleep(1000)
  })
})

// The same store on a Redis Cluster of three masters, through an ioredis Cluster client.
describe.runIf(runClusterTests)('Redis store on a Redis Cluster', () => {
  const current = useRedisCluster()

  it('two instances with Cluster clients allow exactly max requests together', async () => {
    const route: Parameters<typeof limited>[0] = (instance, guard) => {
      instance.get('/v/:id', guard({ authenticated: true }), (_req, res) => res.send('ok'))
    }
    const one = await limited(route, { max: 5, redis: await current().client() })
    const two = await limited(route, { max: 5, redis: await current().client() })
    await Promise.all([one.guard.ready(), two.guard.ready()])
    const alice = { sub: 'alice', client_id: 'player-svc' }
    const codes: number[] = []
    for (let i = 0; i < 8; i++)
      codes.push((await (i % 2 === 0 ? one : two).call('/v/1', alice)).status)
    expect(codes).toEqual([200, 200, 200, 200, 200, 429, 429, 429])
    expect(await current().keys()).toHaveLength(1)
  })
})
