import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Principal } from '@portcullis/fastify'
import { createRedisRevocation } from '@portcullis/tokens'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisServer, runRedisTests } from '../../../test/rate-limit/redis-server.js'
import { revokeFromArgs } from './revoke.js'

const ISSUER = 'https://auth.video-platform.internal'
const root = join(dirname(fileURLToPath(import.meta.url)), '..')

const principal = (claims: Record<string, unknown>, clientId: string | null = null): Principal => ({
  subject: typeof claims.sub === 'string' ? claims.sub : 'someone',
  issuer: ISSUER,
  clientId,
  scopes: new Set<string>(),
  claims,
})

describe.runIf(runRedisTests)("the operator's revoke script", () => {
  let server: RedisServer
  let redis: Redis
  beforeAll(async () => {
    server = await RedisServer.start()
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 })
    await new Promise((resolve) => redis.once('ready', resolve))
  })
  afterAll(async () => {
    redis?.disconnect()
    await server?.stop()
  })

  it('runs from the command line; the services refuse those tokens', async () => {
    const before = Math.floor(Date.now() / 1000)
    const run = spawnSync(
      join(root, 'node_modules', '.bin', 'tsx'),
      ['src/revoke.ts', 'subject', ISSUER, 'alice'],
      {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, REDIS_URL: server.url },
        timeout: 60_000,
      },
    )
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toContain('revoked the tokens of subject alice')
    const service = createRedisRevocation({ redis })
    try {
      await expect(service.isRevoked(principal({ sub: 'alice', iat: before }))).resolves.toBe(true)
      expect(service.isRevoked(principal({ sub: 'alice', iat: before + 120 }))).toBe(false)
      expect(service.isRevoked(principal({ sub: 'bob', iat: before }))).toBe(false)
    } finally {
      service.close()
    }
  })

  it('takes --issued-before; refuses a bad command line', async () => {
    const t = Math.floor(Date.now() / 1000) - 600
    const when = new Date(t * 1000).toISOString()
    await expect(
      revokeFromArgs(['session', ISSUER, 'sess-9', '--issued-before', when], redis),
    ).resolves.toContain('session sess-9')
    await expect(revokeFromArgs(['client', ISSUER, 'batch'], redis)).resolves.toContain('client')
    const service = createRedisRevocation({ redis })
    try {
      await expect(service.isRevoked(principal({ sid: 'sess-9', iat: t }))).resolves.toBe(true)
      expect(service.isRevoked(principal({ sid: 'sess-9', iat: t + 1 }))).toBe(false)
      expect(service.isRevoked(principal({ iat: t }, 'batch'))).toBe(true)
    } finally {
      service.close()
    }
    await expect(revokeFromArgs(['user', ISSUER, 'x'], redis)).rejects.toThrow(/usage/)
    await expect(revokeFromArgs(['subject', ISSUER], redis)).rejects.toThrow(/usage/)
    await expect(
      revokeFromArgs(['subject', ISSUER, 'x', '--issued-before', 'yesterday'], redis),
    ).rejects.toThrow(/not a date/)
  })
})
