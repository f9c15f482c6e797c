import { setTimeout as sleep } from 'node:timers/promises'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import {
  createRedisRevocation,
  type RedisRevocation,
  type TokensRedisClient,
} from '@portcullis/tokens'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { runClusterTests, useRedisCluster } from '../rate-limit/redis-cluster.js'
import { RedisServer, runRedisTests } from '../rate-limit/redis-server.js'
import { connectedRedis, registerPortcullis } from './sender-constraints.js'

// Revocation shared through Redis: a token revoked on one instance is refused by every instance,
// cached verifications included, within the documented bound (`staleAfter`, in practice about
// `pollInterval`). A real redis-server on loopback; skipped without one unless
// PORTCULLIS_REQUIRE_REDIS=1.

const POLL = 100
const TIMEOUT = 200
const STALE_AFTER = 1000

interface Instance {
  app: FastifyInstance
  revocation: RedisRevocation
  runs: () => number
}

async function startInstance(
  issuer: TestIssuer,
  redis: TokensRedisClient,
  instances: Instance[],
  timeout = TIMEOUT,
): Promise<Instance> {
  const revocation = createRedisRevocation({
    redis,
    pollInterval: POLL,
    timeout,
    staleAfter: Math.max(STALE_AFTER, POLL + 4 * timeout),
  })
  let runs = 0
  const app = Fastify({ logger: false })
  await registerPortcullis(app, issuer, { tokens: { isRevoked: revocation.isRevoked } })
  app.get('/v1/videos/:id', { config: { guard: { authenticated: true } } }, () => {
    runs++
    return { ok: true }
  })
  // An administrative route that revokes the caller's own token, as a logout would.
  app.post('/v1/logout', { config: { guard: { authenticated: true } } }, async (req) => {
    await revocation.revoke(req.principal!)
    return { ok: true }
  })
  const created = { app, revocation, runs: () => runs }
  instances.push(created)
  return created
}

describe.runIf(runRedisTests)('revocation shared through Redis', () => {
  let redis: RedisServer
  let issuer: TestIssuer
  const clients: Redis[] = []
  const instances: Instance[] = []

  beforeAll(async () => {
    redis = await RedisServer.start()
    issuer = await createTestIssuer({ issuer: 'https://auth.revoke.test', audience: 'videos-api' })
  })
  afterAll(async () => {
    await redis?.stop()
  })
  afterEach(async () => {
    for (const instance of instances.splice(0)) {
      instance.revocation.close()
      await instance.app.close()
    }
    clients.splice(0).forEach((client) => client.disconnect())
    await redis.restart()
    await redis.send('FLUSHALL')
  })

  const client = (): Promise<Redis> => connectedRedis(redis.url, clients)

  const instance = async (timeout?: number): Promise<Instance> =>
    startInstance(issuer, await client(), instances, timeout)

  const get = (i: Instance, token: string): Promise<LightMyRequestResponse> =>
    i.app.inject({ url: '/v1/videos/1', headers: bearer(token) })

  function expectRevoked(res: LightMyRequestResponse): void {
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'PCL_TOKEN_REVOKED' })
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="videos", error="invalid_token", error_description="Access token revoked"',
    )
  }

  /** Calls until the instance refuses the token; resolves with how long that took (ms). */
  async function untilRefused(i: Instance, token: string, limit: number): Promise<number> {
    const start = performance.now()
    for (;;) {
      const res = await get(i, token)
      const elapsed = performance.now() - start
      if (res.statusCode !== 200) {
        expectRevoked(res)
        return elapsed
      }
      if (elapsed > limit) throw new Error(`still served ${Math.round(elapsed)} ms after revoke()`)
      await sleep(10)
    }
  }

  it('a token revoked on one instance is refused by another, cached verification included', async () => {
    const a = await instance()
    const b = await instance()
    const token = await issuer.token({ sub: 'alice' })
    const other = await issuer.token({ sub: 'bob' })
    // Both instances have verified (and cached) the token.
    expect((await get(a, token)).statusCode).toBe(200)
    expect((await get(b, token)).statusCode).toBe(200)

    await a.revocation.revoke(token)
    // The revoking instance refuses at once.
    expectRevoked(await get(a, token))
    // The other within one poll (plus round trips); never later than staleAfter.
    const delay = await untilRefused(b, token, STALE_AFTER)
    expect(delay).toBeLessThan(POLL + 4 * TIMEOUT)
    const runs = a.runs() + b.runs()
    expectRevoked(await get(a, token))
    expectRevoked(await get(b, token))
    expect(a.runs() + b.runs()).toBe(runs)
    // Other tokens are unaffected.
    expect((await get(b, other)).statusCode).toBe(200)
  })

  it('an instance started after the revocation refuses the token from its first request', async () => {
    const a = await instance()
    const token = await issuer.token()
    await a.revocation.revoke(token)
    // Its first load of the list must answer in time on a busy machine too (else it would
    // refuse with 503, also without serving): a generous deadline for this one.
    const late = await instance(2000)
    expectRevoked(await get(late, token))
    expect(late.runs()).toBe(0)
  })

  it('revokes by { jti, exp } and by principal; the entry expires with the token', async () => {
    const a = await instance()
    const b = await instance()
    const jti = 'jti-revoke-1'
    const exp = Math.floor(Date.now() / 1000) + 120
    const token = await issuer.token({ jti, exp })
    await a.revocation.revoke({ jti, exp })
    await untilRefused(b, token, STALE_AFTER)
    const inspector = await client()
    expect(await inspector.zscore('{portcullis:revoked:}jti', jti)).toBe(String(exp))

    // A verified principal, as a logout route has it.
    const self = await issuer.token({ sub: 'carol' })
    const res = await b.app.inject({ method: 'POST', url: '/v1/logout', headers: bearer(self) })
    expect(res.statusCode).toBe(200)
    expectRevoked(await get(b, self))
    await untilRefused(a, self, STALE_AFTER)
  })

  const seconds = (): number => Math.floor(Date.now() / 1000)

  it.each([
    ['subject', 'revokeSubject', { sub: 'alice' }, 'alice', { sub: 'bob' }],
    [
      'session',
      'revokeSession',
      { sub: 'alice', sid: 'sess-1' },
      'sess-1',
      { sub: 'alice', sid: 'sess-2' },
    ],
    [
      'client',
      'revokeClient',
      { sub: 'alice', client_id: 'batch' },
      'batch',
      { sub: 'alice', client_id: 'web' },
    ],
  ] as const)(
    'a %s revoked on one instance is refused by the other within 2 s, cached token included; later tokens pass',
    async (_kind, method, claims, id, unrelated) => {
      const a = await instance()
      const b = await instance()
      const token = await issuer.token({ ...claims, iat: seconds() - 30 })
      const other = await issuer.token({ ...unrelated, iat: seconds() - 30 })
      // B has verified and cached the token.
      expect((await get(b, token)).statusCode).toBe(200)
      expect((await get(b, token)).statusCode).toBe(200)

      await a.revocation[method](issuer.issuer, id)
      const revokedAt = seconds()
      expectRevoked(await get(a, token))
      const delay = await untilRefused(b, token, 2000)
      expect(delay).toBeLessThan(2000)
      const runs = b.runs()
      expectRevoked(await get(b, token))
      expect(b.runs()).toBe(runs)
      // Tokens of others, and tokens issued after the revocation, pass on both.
      expect((await get(b, other)).statusCode).toBe(200)
      const later = await issuer.token({ ...claims, iat: revokedAt + 1 })
      expect((await get(a, later)).statusCode).toBe(200)
      expect((await get(b, later)).statusCode).toBe(200)
      // The same id at another issuer is another subject.
      const inspector = await client()
      const members = await inspector.zrange('{portcullis:revoked:}issued-before', 0, -1)
      expect(members.map((m) => JSON.parse(m) as unknown[]).map((m) => m.slice(0, 3))).toEqual([
        [
          method === 'revokeSubject' ? 'sub' : method === 'revokeSession' ? 'sid' : 'client',
          issuer.issuer,
          id,
        ],
      ])
      // The entry expires by itself after maxTokenLifetime (default 24 h) plus 5 minutes.
      const ttl = await inspector.ttl('{portcullis:revoked:}issued-before')
      expect(ttl).toBeGreaterThan(86_400 + 300 - 10)
      expect(ttl).toBeLessThanOrEqual(86_400 + 300 + 2)
    },
  )

  it('a token without iat under a subject revocation is refused (fail closed)', async () => {
    const a = await instance()
    const b = await instance()
    const token = await issuer.token({ sub: 'alice', iat: undefined })
    expect((await get(b, token)).statusCode).toBe(200)
    // Even with an issuedBefore long past: nothing says when this token was issued.
    await a.revocation.revokeSubject(issuer.issuer, 'alice', {
      issuedBefore: new Date(Date.now() - 3_600_000),
    })
    expectRevoked(await get(a, token))
    await untilRefused(b, token, 2000)
    const recent = await issuer.token({ sub: 'alice' })
    expect((await get(b, recent)).statusCode).toBe(200)
  })

  it('Redis down: served from the last copy until staleAfter, then 503 (fail closed)', async () => {
    const a = await instance()
    const token = await issuer.token()
    expect((await get(a, token)).statusCode).toBe(200)
    await redis.stop()
    const stoppedAt = performance.now()
    // Within staleAfter the last copy answers.
    expect((await get(a, token)).statusCode).toBe(200)
    let res: LightMyRequestResponse
    for (;;) {
      res = await get(a, token)
      if (res.statusCode !== 200) break
      expect(performance.now() - stoppedAt).toBeLessThan(STALE_AFTER + POLL + 500)
      await sleep(25)
    }
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ code: 'PCL_REVOCATION_UNAVAILABLE' })
    expect(res.headers['www-authenticate']).toBeUndefined()
    const runs = a.runs()
    // When Redis returns, so does service, without a restart.
    await redis.restart()
    for (let attempt = 0; attempt < 100; attempt++) {
      res = await get(a, token)
      if (res.statusCode === 200) break
      await sleep(50)
    }
    expect(res.statusCode).toBe(200)
    expect(a.runs()).toBe(runs + 1)
  })

  it('refuses bad options naming the field', () => {
    expect(() => createRedisRevocation({ redis: 'redis://x' as never })).toThrow(
      /createRedisRevocation\.redis/,
    )
    expect(() =>
      createRedisRevocation({
        redis: { status: 'ready', call: () => Promise.resolve(null) },
        pollInterval: 1000,
        staleAfter: 1000,
      }),
    ).toThrow(/createRedisRevocation\.staleAfter/)
  })
})

// The same list on a Redis Cluster of three masters, through ioredis Cluster clients: the keys
// are hash-tagged by the prefix, so that one script records an entry and bumps the version.
describe.runIf(runClusterTests)('revocation shared through a Redis Cluster', () => {
  const current = useRedisCluster()
  let issuer: TestIssuer
  const instances: Instance[] = []
  beforeAll(async () => {
    issuer = await createTestIssuer({ issuer: 'https://auth.revoke.test', audience: 'videos-api' })
  })
  afterAll(async () => {
    for (const instance of instances.splice(0)) {
      instance.revocation.close()
      await instance.app.close()
    }
  })

  it('a token revoked on one instance is refused by another', async () => {
    const a = await startInstance(issuer, await current().client(), instances)
    const b = await startInstance(issuer, await current().client(), instances)
    const token = await issuer.token({ sub: 'alice' })
    const get = (i: Instance) => i.app.inject({ url: '/v1/videos/1', headers: bearer(token) })
    expect((await get(b)).statusCode).toBe(200)
    await a.revocation.revoke(token)
    expect((await get(a)).statusCode).toBe(401)
    const start = performance.now()
    while ((await get(b)).statusCode === 200) {
      expect(performance.now() - start).toBeLessThan(STALE_AFTER)
      await sleep(10)
    }
    expect((await get(b)).json()).toMatchObject({ code: 'PCL_TOKEN_REVOKED' })
    expect(await current().keys()).toEqual([
      '{portcullis:revoked:}jti',
      '{portcullis:revoked:}version',
    ])
  })

  it('a subject revoked on one instance is refused by another; the keys share a slot', async () => {
    const a = await startInstance(issuer, await current().client(), instances)
    const b = await startInstance(issuer, await current().client(), instances)
    const token = await issuer.token({ sub: 'dave', iat: Math.floor(Date.now() / 1000) - 10 })
    const get = (i: Instance) => i.app.inject({ url: '/v1/videos/1', headers: bearer(token) })
    expect((await get(b)).statusCode).toBe(200)
    await a.revocation.revokeSubject(issuer.issuer, 'dave')
    const start = performance.now()
    while ((await get(b)).statusCode === 200) {
      expect(performance.now() - start).toBeLessThan(2000)
      await sleep(10)
    }
    expect((await get(b)).json()).toMatchObject({ code: 'PCL_TOKEN_REVOKED' })
    expect((await current().keysPerMaster()).filter((n) => n > 0)).toHaveLength(1)
  })
})
