import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster, Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { limitedApp, statuses, type LimitedApp } from './helpers.js'
import { runClusterTests, useRedisCluster } from './redis-cluster.js'
import { RedisServer, runRedisTests } from './redis-server.js'

// A real redis-server on a loopback port (the Debian package; `.ci/run` installs it). Without
// it these tests are skipped, unless PORTCULLIS_REQUIRE_REDIS=1 makes its absence a failure.
describe.runIf(runRedisTests)('Redis store', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await RedisServer.start()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  const apps: LimitedApp[] = []
  const clients: Redis[] = []
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((t) => t.app.close()))
    clients.splice(0).forEach((client) => client.disconnect())
    await redis.restart()
    await redis.send('FLUSHALL')
  })

  const alice = { sub: 'alice', client_id: 'player-svc' }

  async function app(
    rateLimit: Parameters<typeof limitedApp>[1] extends infer O
      ? O extends { rateLimit?: infer R }
        ? R
        : never
      : never,
  ): Promise<LimitedApp> {
    const t = await limitedApp(
      (instance, ran) => {
        instance.get('/v/:id', { config: { guard: { authenticated: true } } }, () => {
          ran()
          return 'ok'
        })
      },
      { rateLimit: { max: 5, timeWindow: '1 minute', redis: redis.url, ...rateLimit } },
    )
    apps.push(t)
    await t.app.ready()
    return t
  }

  /**
   * Calls until Redis counts again (reconnected): a counted response carries the RateLimit
   * headers, a fail-open one does not. At most a few seconds.
   */
  async function untilCounted(t: LimitedApp): Promise<number> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const res = await t.call('/v/1', { sub: `probe-${attempt}` })
      if (res.statusCode === 200 && res.headers['ratelimit-limit'] !== undefined) return attempt
      await sleep(50)
    }
    throw new Error('the app did not recover after Redis came back')
  }

  it('two instances on one Redis allow exactly max requests together for one principal', async () => {
    const a = await app({})
    const b = await app({})
    const codes: number[] = []
    for (let i = 0; i < 12; i++) {
      const t = i % 2 === 0 ? a : b
      codes.push((await t.call(`/v/${i}`, alice, { ip: `10.0.0.${i}` })).statusCode)
    }
    expect(codes.filter((code) => code === 200)).toHaveLength(5)
    expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200])
    expect(codes.slice(5).every((code) => code === 429)).toBe(true)
    expect(a.runs() + b.runs()).toBe(5)
    const limited = await b.call('/v/1', alice)
    expect(limited.headers['retry-after']).toMatch(/^(59|60)$/)
    expect(limited.headers['ratelimit-remaining']).toBe('0')
    // Keys are namespaced and hold no raw URL.
    const inspector = new Redis(redis.url)
    clients.push(inspector)
    const keys = await inspector.keys('*')
    expect(keys).toEqual([`portcullis:rl:r\0GET /v/:id\0p\0https://auth.test\0alice`])
  })

  it('accepts an ioredis client, and leaves it open when the app closes', async () => {
    const client = new Redis(redis.url)
    clients.push(client)
    const t = await app({ redis: client })
    expect(await statuses(6, () => t.call('/v/1', alice))).toEqual([200, 200, 200, 200, 200, 429])
    await t.app.close()
    apps.splice(apps.indexOf(t), 1)
    expect(client.status).toBe('ready')
    expect(await client.ping()).toBe('PONG')
  })

  it('connects a lazyConnect client at startup', async () => {
    const client = new Redis(redis.url, { lazyConnect: true })
    clients.push(client)
    const t = await app({ redis: client })
    expect(client.status).toBe('ready')
    expect((await t.call('/v/1', alice)).statusCode).toBe(200)
  })

  it('closes the client it created from a URL when the app closes', async () => {
    const inspector = new Redis(redis.url)
    clients.push(inspector)
    const connections = async () =>
      String(await inspector.client('LIST'))
        .trim()
        .split('\n').length
    const t = await app({})
    expect(await connections()).toBe(2)
    await t.app.close()
    apps.splice(apps.indexOf(t), 1)
    expect(await connections()).toBe(1)
  })

  it('fail-closed (default): Redis stopped mid-run answers 503, then recovers without a restart', async () => {
    const t = await app({})
    expect(await statuses(2, () => t.call('/v/1', alice))).toEqual([200, 200])
    await redis.stop()
    const refused = await t.call('/v/1', alice)
    expect(refused.statusCode).toBe(503)
    expect(refused.json()).toMatchObject({ code: 'PCL_STORE_UNAVAILABLE', status: 503 })
    expect(refused.body).not.toContain('redis')
    expect(t.runs()).toBe(2)
    expect(t.events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_STORE_UNAVAILABLE',
      status: 503,
      subject: 'alice',
    })
    await redis.restart()
    await untilCounted(t)
    // Counting works again (the restarted Redis kept nothing: a fresh window).
    expect(await statuses(6, () => t.call('/v/1', alice))).toEqual([200, 200, 200, 200, 200, 429])
  })

  it('fail-open: serves during the outage with an audit event and one warning, then limits again', async () => {
    const t = await app({ onStoreError: 'fail-open' })
    await redis.stop()
    expect(await statuses(8, () => t.call('/v/1', alice))).toEqual(Array(8).fill(200))
    const outage = t.events.filter((e) => e.reason === 'PCL_STORE_UNAVAILABLE')
    expect(outage).toHaveLength(8)
    expect(outage[0]).toMatchObject({ decision: 'allow', status: null, route: '/v/:id' })
    const warnings = t.logs.filter((line) => line.includes('UNLIMITED'))
    expect(warnings).toHaveLength(1)
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, code: 'PCL_STORE_UNAVAILABLE' })
    await redis.restart()
    await untilCounted(t)
    expect(await statuses(6, () => t.call('/v/1', alice))).toEqual([200, 200, 200, 200, 200, 429])
  })

  it('a Redis slower than storeTimeout (CLIENT PAUSE) counts as an outage', async () => {
    const t = await app({ storeTimeout: 100 })
    expect((await t.call('/v/1', alice)).statusCode).toBe(200)
    expect(await redis.send('CLIENT PAUSE 2000')).toBe('+OK')
    const slow = await t.call('/v/1', alice)
    expect(slow.statusCode).toBe(503)
    expect(slow.json()).toMatchObject({ code: 'PCL_STORE_UNAVAILABLE' })
    expect(t.runs()).toBe(1)
    await untilCounted(t)
  })
})

// The same store on a Redis Cluster of three masters (test/rate-limit/redis-cluster.ts): each
// count is one script on one key, so it runs on the master of that key's slot.
describe.runIf(runClusterTests)('Redis store on a Redis Cluster', () => {
  const current = useRedisCluster()
  const apps: LimitedApp[] = []
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((t) => t.app.close()))
    await current().flush()
  })

  async function app(): Promise<LimitedApp> {
    const t = await limitedApp(
      (instance, ran) => {
        instance.get('/v/:id', { config: { guard: { authenticated: true } } }, () => {
          ran()
          return 'ok'
        })
      },
      { rateLimit: { max: 5, timeWindow: '1 minute', redis: await current().client() } },
    )
    apps.push(t)
    await t.app.ready()
    return t
  }

  it('two instances, each with its own Cluster client, allow exactly max together', async () => {
    const a = await app()
    const b = await app()
    const alice = { sub: 'alice' }
    const codes: number[] = []
    for (let i = 0; i < 8; i++)
      codes.push((await (i % 2 === 0 ? a : b).call('/v/1', alice)).statusCode)
    expect(codes).toEqual([200, 200, 200, 200, 200, 429, 429, 429])
    expect(a.runs() + b.runs()).toBe(5)
    expect((await b.call('/v/1', alice)).headers['retry-after']).toMatch(/^(59|60)$/)
  })

  it('connects a lazyConnect Cluster client at startup, and leaves it open on close', async () => {
    const client = new Cluster(current().nodes, { lazyConnect: true })
    try {
      const t = await limitedApp(
        (instance) => {
          instance.get('/v/:id', { config: { guard: { authenticated: true } } }, () => 'ok')
        },
        { rateLimit: { max: 2, timeWindow: '1 minute', redis: client } },
      )
      await t.app.ready()
      expect(client.status).toBe('ready')
      expect(await statuses(3, () => t.call('/v/1', { sub: 'bob' }))).toEqual([200, 200, 429])
      await t.app.close()
      expect(client.status).toBe('ready')
    } finally {
      client.disconnect()
    }
  })

  it('principals spread over the masters, each counted on its own', async () => {
    const t = await app()
    for (let i = 0; i < 24; i++)
      expect((await t.call('/v/1', { sub: `user-${i}` })).statusCode).toBe(200)
    expect(await current().keys()).toHaveLength(24)
    const perMaster = await current().keysPerMaster()
    expect(perMaster.filter((count) => count > 0).length).toBeGreaterThan(1)
  })
})
