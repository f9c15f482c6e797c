import type { PortcullisExpressOptions } from '@portcullis/express'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  createRedisEgressStore,
  EGRESS_KEY_PREFIX,
} from '../../packages/rate-limit/src/egress/egress-store.js'
import { cachedTokens } from '../cases/checks.js'
import { guardedExpress, type GuardedExpress } from '../express/helpers.js'
import { guardedApp, type GuardedApp } from '../helpers.js'
import { RedisServer, runRedisTests } from './redis-server.js'

// Budgets, enumeration sets and lockouts shared by several instances (Fastify and Express)
// through one redis-server on a loopback port. Every key carries its counting key as a Redis
// hash tag, so the same suites can run on a Redis Cluster.
describe.runIf(runRedisTests)('egress limits on Redis', () => {
  let redis: RedisServer
  let issuer: TestIssuer
  beforeAll(async () => {
    redis = await RedisServer.start()
    issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
  })
  afterAll(async () => {
    await redis?.stop()
  })

  const apps: { close(): Promise<void> }[] = []
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()))
    await redis.restart()
    await redis.send('FLUSHALL')
  })

  const history = {
    scopes: ['history:read'],
    budget: { name: 'viewing-history', unit: 'items', max: 1000, timeWindow: '1 hour' },
    enumeration: { query: 'user', maxDistinct: 3, timeWindow: '1 hour' },
    response: { allow: ['items[].videoId', 'items[].watchedAt'], maxItems: 100 },
  } as const
  const admin = { scopes: ['admin'], response: { allow: ['ok'] } } as const
  const page = {
    items: Array.from({ length: 100 }, (_, i) => ({ videoId: i, watchedAt: 't', ip: '10.0.0.1' })),
  }

  type Options = Partial<NonNullable<PortcullisExpressOptions['rateLimit']>>

  function rateLimit(extra: Options = {}) {
    return {
      max: 1000,
      timeWindow: '1 minute',
      redis: redis.url,
      storeTimeout: 200,
      lockout: { max: 2, timeWindow: '1 minute', coolDown: '10 minutes' },
      ...extra,
    } as NonNullable<PortcullisExpressOptions['rateLimit']>
  }

  /** One instance: `call(url, claims)` answers `[status, code]`. */
  interface Instance {
    call(url: string, claims: Record<string, unknown>): Promise<[number, string | undefined]>
  }

  const tokenFor = (claims: Record<string, unknown>) => (tokens ??= cachedTokens(issuer))(claims)
  let tokens: ReturnType<typeof cachedTokens> | undefined

  async function fastifyInstance(extra: Options = {}): Promise<Instance> {
    const t: GuardedApp = await guardedApp(
      (app) => {
        app.get('/history', { config: { guard: history } }, () => page)
        app.get('/admin', { config: { guard: admin } }, () => ({ ok: true }))
      },
      { issuer, portcullis: { rateLimit: rateLimit(extra), response: {} } },
    )
    apps.push(t.app)
    await t.app.ready()
    return {
      async call(url, claims) {
        const res = await t.app.inject({ url, headers: bearer(await tokenFor(claims)) })
        return [
          res.statusCode,
          res.statusCode >= 400 ? res.json<{ code: string }>().code : undefined,
        ]
      },
    }
  }

  async function expressInstance(extra: Options = {}): Promise<Instance> {
    const h: GuardedExpress = await guardedExpress(
      (app, guard) => {
        app.get('/history', guard(history), (_req, res) => void res.json(page))
        app.get('/admin', guard(admin), (_req, res) => void res.json({ ok: true }))
      },
      { issuer, portcullis: { rateLimit: rateLimit(extra), response: {} } },
    )
    apps.push(h)
    await h.guard.ready()
    return {
      async call(url, claims) {
        const res = await h.request(url, { headers: bearer(await tokenFor(claims)) })
        return [res.status, res.status >= 400 ? res.json<{ code: string }>().code : undefined]
      },
    }
  }

  const alice = { sub: 'alice', client_id: 'history-svc', scope: 'history:read' }
  const bob = { sub: 'bob', client_id: 'history-svc', scope: 'history:read' }

  it('1000 items per hour across two instances: ten pages of 100, the eleventh is a 429 on either; another principal is unaffected; a restart loses nothing', async () => {
    const a = await fastifyInstance()
    const b = await expressInstance()
    const answers: [number, string | undefined][] = []
    for (let i = 0; i < 10; i++) answers.push(await (i % 2 === 0 ? a : b).call('/history', alice))
    expect(answers).toEqual(Array.from({ length: 10 }, () => [200, undefined]))
    expect(await a.call('/history', alice)).toEqual([429, 'PCL_BUDGET_EXHAUSTED'])
    expect(await b.call('/history', alice)).toEqual([429, 'PCL_BUDGET_EXHAUSTED'])
    expect(await b.call('/history', bob)).toEqual([200, undefined])
    // The balance is in Redis: instances started afresh still refuse.
    await Promise.all(apps.splice(0).map((app) => app.close()))
    expect(await (await fastifyInstance()).call('/history', alice)).toEqual([
      429,
      'PCL_BUDGET_EXHAUSTED',
    ])
    expect(await (await expressInstance()).call('/history', bob)).toEqual([200, undefined])
  })

  it('distinct values are shared across instances; re-reads are free', async () => {
    const a = await fastifyInstance()
    const b = await expressInstance()
    expect(await a.call('/history?user=1', alice)).toEqual([200, undefined])
    expect(await b.call('/history?user=2', alice)).toEqual([200, undefined])
    expect(await a.call('/history?user=3', alice)).toEqual([200, undefined])
    expect(await b.call('/history?user=1', alice)).toEqual([200, undefined])
    expect(await b.call('/history?user=4', alice)).toEqual([429, 'PCL_ENUMERATION'])
    expect(await a.call('/history?user=4', bob)).toEqual([200, undefined])
  })

  it('a lockout started on one instance holds on the other', async () => {
    const a = await fastifyInstance()
    const b = await expressInstance()
    expect(await a.call('/admin', alice)).toEqual([403, 'PCL_INSUFFICIENT_SCOPE'])
    expect(await b.call('/admin', alice)).toEqual([403, 'PCL_INSUFFICIENT_SCOPE'])
    expect(await a.call('/history', alice)).toEqual([429, 'PCL_LOCKED_OUT'])
    expect(await b.call('/history', alice)).toEqual([429, 'PCL_LOCKED_OUT'])
    expect(await b.call('/history', bob)).toEqual([200, undefined])
  })

  it('every key is hash-tagged by its counting key: the keys of one principal share a slot', async () => {
    const a = await fastifyInstance()
    await a.call('/history?user=1', alice)
    await a.call('/admin', alice)
    const client = new Redis(redis.url)
    try {
      const keys = (await client.keys('portcullis:eg:*')).sort()
      expect(keys).toHaveLength(3)
      const tags = keys.map((key) => /^portcullis:eg:[bel]:(\{[^}]*\})/u.exec(key)?.[1])
      expect(tags.every((tag) => tag !== undefined && tag.includes('alice'))).toBe(true)
      expect(new Set(tags).size).toBe(1)
      // The lockout's two keys are one script's: same tag, so the same slot on a cluster.
      expect(keys.filter((key) => key.startsWith('portcullis:eg:l:'))).toHaveLength(1)
      const [slotA, slotB] = await Promise.all(
        [keys[0]!, keys[2]!].map((key) => client.call('CLUSTER', 'KEYSLOT', key).catch(() => null)),
      )
      // CLUSTER KEYSLOT answers only with cluster support compiled in; both or neither.
      expect(slotA).toEqual(slotB)
    } finally {
      client.disconnect()
    }
  })

  it("fails closed (503) while Redis is down, or serves with onStoreError: 'fail-open'", async () => {
    const closed = await fastifyInstance()
    const openly = await expressInstance({ onStoreError: 'fail-open' })
    expect(await closed.call('/history', alice)).toEqual([200, undefined])
    await redis.stop()
    expect(await closed.call('/history', alice)).toEqual([503, 'PCL_STORE_UNAVAILABLE'])
    expect(await openly.call('/history', alice)).toEqual([200, undefined])
  })

  it("overdraw 'refuse' on Redis charges nothing for the refused page", async () => {
    const t = await guardedApp(
      (app) => {
        app.get(
          '/history',
          {
            config: {
              guard: {
                scopes: history.scopes,
                response: history.response,
                budget: { unit: 'items', max: 250, timeWindow: '1 hour', overdraw: 'refuse' },
              },
            },
          },
          () => page,
        )
      },
      { issuer, portcullis: { rateLimit: rateLimit(), response: {} } },
    )
    apps.push(t.app)
    const token = bearer(await tokenFor(alice))
    const codes: number[] = []
    for (let i = 0; i < 4; i++)
      codes.push((await t.app.inject({ url: '/history', headers: token })).statusCode)
    expect(codes).toEqual([200, 200, 429, 429])
    const client = new Redis(redis.url)
    try {
      const [key] = await client.keys('portcullis:eg:b:*')
      expect(await client.get(key!)).toBe('200')
    } finally {
      client.disconnect()
    }
  })

  describe('the store itself', () => {
    const clients: Redis[] = []
    async function client(): Promise<Redis> {
      const c = new Redis(redis.url)
      clients.push(c)
      await new Promise((resolve) => c.once('ready', resolve))
      return c
    }
    afterEach(() => {
      for (const c of clients.splice(0)) c.disconnect()
    })

    it('charges in a window opened by the first charge, clamped to max unless refusing', async () => {
      const c = await client()
      const store = createRedisEgressStore(() => c, 1000)
      expect(store.kind).toBe('redis')
      expect(await store.balance('k')).toEqual({ used: 0, ttl: 0 })
      const first = await store.charge('k', 60, 100, 60_000, false)
      expect(first).toMatchObject({ used: 60, refused: false })
      expect(first.ttl).toBe(60_000)
      expect(await store.charge('k', 60, 100, 60_000, true)).toMatchObject({
        used: 60,
        refused: true,
      })
      const clamped = await store.charge('k', 60, 100, 60_000, false)
      expect(clamped).toMatchObject({ used: 100, refused: false })
      expect(clamped.ttl).toBeGreaterThan(59_000)
      expect(clamped.ttl).toBeLessThanOrEqual(60_000)
      const balance = await store.balance('k')
      expect(balance).toEqual({ used: 100, ttl: balance.ttl })
      expect(balance.ttl).toBeGreaterThan(59_000)
      expect(await c.get(`${EGRESS_KEY_PREFIX}k`)).toBe('100')
      // A first charge over max with refuse leaves no key behind; like the memory store, it
      // answers a whole window to wait.
      expect(await store.charge('r', 200, 100, 60_000, true)).toEqual({
        used: 0,
        ttl: 60_000,
        refused: true,
      })
      expect(await c.exists(`${EGRESS_KEY_PREFIX}r`)).toBe(0)
    })

    it('holds a set up to max: re-reads free, the values past it refused and not added', async () => {
      const c = await client()
      const store = createRedisEgressStore(() => c, 1000)
      const first = await store.touch('s', ['1', '2'], 3, 60_000)
      expect(first).toMatchObject({ allowed: true, held: 2 })
      expect(first.ttl).toBeGreaterThan(59_000)
      expect(await store.touch('s', ['2'], 3, 60_000)).toMatchObject({ allowed: true, held: 2 })
      expect(await store.touch('s', ['3', '4'], 3, 60_000)).toMatchObject({
        allowed: false,
        held: 2,
      })
      expect(await store.touch('s', ['3'], 3, 60_000)).toMatchObject({ allowed: true, held: 3 })
      expect((await c.smembers(`${EGRESS_KEY_PREFIX}s`)).sort()).toEqual(['1', '2', '3'])
    })

    it('locks a key out on the max-th denial of a window, for the cool-down', async () => {
      const c = await client()
      const store = createRedisEgressStore(() => c, 1000)
      expect(await store.lockedFor('p')).toBe(0)
      expect(await store.deny('p', 2, 60_000, 30_000)).toBe(0)
      expect(await store.lockedFor('p')).toBe(0)
      expect(await store.deny('p', 2, 60_000, 30_000)).toBe(30_000)
      const left = await store.lockedFor('p')
      expect(left).toBeGreaterThan(29_000)
      expect(left).toBeLessThanOrEqual(30_000)
      // The denials that locked it are cleared: the next lockout takes max denials again.
      expect(await store.deny('p', 2, 60_000, 30_000)).toBe(0)
    })

    it('fails while no client exists, and binds to the client that replaces one', async () => {
      let current: Redis | null = null
      const store = createRedisEgressStore(() => current, 1000)
      await expect(store.balance('k')).rejects.toThrow('redis client not created yet')
      const first = await client()
      current = first
      await store.charge('k', 1, 10, 60_000, false)
      // The application replaced its client (the first one closed): the store follows.
      const replaced = await client()
      first.disconnect()
      current = replaced
      expect(await store.charge('k', 1, 10, 60_000, false)).toMatchObject({ used: 2 })
      // Each client is given the scripts once: a second store on it reuses them.
      const other = createRedisEgressStore(() => replaced, 1000)
      expect(await other.balance('k')).toMatchObject({ used: 2 })
      expect(store.size()).toBeNull()
      store.clear()
      expect(await store.balance('k')).toMatchObject({ used: 2 })
    })

    it('a stalled Redis fails each operation within its timeout, and the next ones at once', async () => {
      const c = await client()
      const store = createRedisEgressStore(() => c, 100)
      await store.balance('k')
      const sent = vi.spyOn(
        c as unknown as { portcullisEgressCharge: () => unknown },
        'portcullisEgressCharge',
      )
      await redis.send('CLIENT PAUSE 1000')
      const started = Date.now()
      await expect(store.charge('k', 1, 10, 60_000, false)).rejects.toThrow(/within 100 ms/)
      expect(Date.now() - started).toBeLessThan(900)
      // While the first is unanswered, no more commands queue up behind it.
      await expect(store.charge('k', 1, 10, 60_000, false)).rejects.toThrow(/has not answered/)
      expect(sent).toHaveBeenCalledTimes(1)
    })
  })
})
