import { setTimeout as sleep } from 'node:timers/promises'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { createRedisRevocation, type RedisRevocation } from '@portcullis/tokens'
import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { connectedRedis } from '../fastify/sender-constraints.js'
import { RedisServer, runRedisTests } from '../rate-limit/redis-server.js'
import { trustedTokens } from '../helpers.js'
import { guardedExpress, type GuardedExpress } from './helpers.js'

// Revocation by subject, session and client shared through Redis, on Express: what one instance
// revokes, another refuses within 2 s, its cached verification included (the Fastify side, and
// the cluster, are in test/fastify/revocation.test.ts).

interface Instance {
  app: GuardedExpress
  revocation: RedisRevocation
}

describe.runIf(runRedisTests)('Express: revocation by subject, session and client', () => {
  let server: RedisServer
  let issuer: TestIssuer
  const clients: Redis[] = []
  const instances: Instance[] = []

  beforeAll(async () => {
    server = await RedisServer.start()
    issuer = await createTestIssuer({ issuer: 'https://auth.revoke.test', audience: 'videos-api' })
  })
  afterAll(async () => {
    await server?.stop()
  })
  afterEach(async () => {
    for (const instance of instances.splice(0)) {
      instance.revocation.close()
      await instance.app.close()
    }
    clients.splice(0).forEach((client) => client.disconnect())
    await server.send('FLUSHALL')
  })

  async function instance(): Promise<Instance> {
    const revocation = createRedisRevocation({
      redis: await connectedRedis(server.url, clients),
      pollInterval: 100,
      timeout: 200,
      staleAfter: 1000,
    })
    const app = await guardedExpress(
      (express, guard) => {
        express.get('/v1/videos/:id', guard({ authenticated: true }), (_req, res) => {
          res.json({ ok: true })
        })
      },
      {
        issuer,
        portcullis: { tokens: { ...trustedTokens(issuer), isRevoked: revocation.isRevoked } },
      },
    )
    const created = { app, revocation }
    instances.push(created)
    return created
  }

  const get = (i: Instance, token: string) =>
    i.app.request('/v1/videos/1', { headers: bearer(token) })
  const seconds = (): number => Math.floor(Date.now() / 1000)

  it.each([
    ['revokeSubject', { sub: 'alice' }, 'alice'],
    ['revokeSession', { sub: 'alice', sid: 'sess-1' }, 'sess-1'],
    ['revokeClient', { sub: 'alice', client_id: 'batch' }, 'batch'],
  ] as const)(
    '%s on one instance: the other refuses within 2 s; later tokens pass',
    async (method, claims, id) => {
      const a = await instance()
      const b = await instance()
      const token = await issuer.token({ ...claims, iat: seconds() - 30 })
      expect((await get(b, token)).status).toBe(200)
      await a.revocation[method](issuer.issuer, id)
      const revokedAt = seconds()
      const refusedA = await get(a, token)
      expect(refusedA.status).toBe(401)
      expect(refusedA.json()).toMatchObject({ code: 'PCL_TOKEN_REVOKED' })
      const start = performance.now()
      let res = await get(b, token)
      while (res.status === 200) {
        expect(performance.now() - start).toBeLessThan(2000)
        await sleep(10)
        res = await get(b, token)
      }
      expect(res.status).toBe(401)
      expect(res.json()).toMatchObject({ code: 'PCL_TOKEN_REVOKED' })
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"')
      const later = await issuer.token({ ...claims, iat: revokedAt + 1 })
      expect((await get(a, later)).status).toBe(200)
      expect((await get(b, later)).status).toBe(200)
    },
  )
})
