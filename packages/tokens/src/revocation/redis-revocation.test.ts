import type { Principal } from '@portcullis/core'
import { rawToken } from '@portcullis/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createRedisRevocation, type RedisRevocation } from './redis-revocation.js'

// The revocation list against a Redis stand-in that implements the five commands it sends; the
// real thing, across instances, is test/fastify/revocation.test.ts.

class FakeRedis {
  status = 'ready'
  readonly strings = new Map<string, string>()
  readonly zsets = new Map<string, Map<string, number>>()
  readonly sent: string[] = []

  call(command: string, ...args: (string | number)[]): Promise<unknown> {
    this.sent.push(command)
    const [key = '', a, b] = args.map(String)
    const zset = this.zsets.get(key) ?? new Map<string, number>()
    this.zsets.set(key, zset)
    switch (command) {
      case 'GET':
        return Promise.resolve(this.strings.get(key) ?? null)
      case 'INCR': {
        const next = Number(this.strings.get(key) ?? 0) + 1
        this.strings.set(key, String(next))
        return Promise.resolve(next)
      }
      case 'ZADD':
        zset.set(b ?? '', Number(a))
        return Promise.resolve(1)
      case 'ZRANGEBYSCORE': {
        const min = Number((a ?? '').replace('(', ''))
        return Promise.resolve(
          [...zset].filter(([, s]) => s > min).flatMap(([m, s]) => [m, String(s)]),
        )
      }
      case 'ZREMRANGEBYSCORE':
        for (const [member, score] of zset) if (score <= Number(b)) zset.delete(member)
        return Promise.resolve(0)
      default:
        return Promise.reject(new Error(`unexpected ${command}`))
    }
  }
}

const principal = (jti: unknown): Principal => ({
  subject: 's',
  issuer: 'i',
  clientId: null,
  scopes: new Set<string>(),
  claims: { jti },
})

const soon = (): number => Math.floor(Date.now() / 1000) + 300

describe('createRedisRevocation', () => {
  const open: RedisRevocation[] = []
  afterEach(() => {
    open.splice(0).forEach((r) => r.close())
  })
  function list(redis: FakeRedis, extra: object = {}): RedisRevocation {
    const r = createRedisRevocation({
      redis,
      pollInterval: 50,
      timeout: 20,
      staleAfter: 200,
      ...extra,
    })
    open.push(r)
    return r
  }

  it('waits for the first load, then answers from memory', async () => {
    const redis = new FakeRedis()
    redis.zsets.set('portcullis:revoked:jti', new Map([['gone', soon()]]))
    const r = list(redis)
    await expect(r.isRevoked(principal('gone'))).resolves.toBe(true)
    expect(r.isRevoked(principal('kept'))).toBe(false)
    expect(r.isRevoked(principal(undefined))).toBe(false)
  })

  it('an unchanged list costs one GET per poll', async () => {
    const redis = new FakeRedis()
    const r = list(redis)
    await r.refresh()
    redis.sent.length = 0
    await r.refresh()
    await r.refresh()
    expect(redis.sent).toEqual(['GET', 'GET'])
  })

  it('revokes by { jti, exp }, by principal and by token; refuses tokens without jti', async () => {
    const redis = new FakeRedis()
    const r = list(redis)
    await r.refresh()
    await r.revoke({ jti: 'a', exp: soon() })
    await r.revoke({ ...principal('b'), claims: { jti: 'b', exp: soon() } })
    await r.revoke(rawToken({ alg: 'ES256' }, { jti: 'c', exp: soon() }, 'sig'))
    for (const jti of ['a', 'b', 'c']) expect(r.isRevoked(principal(jti))).toBe(true)
    expect([...(redis.zsets.get('portcullis:revoked:jti')?.keys() ?? [])]).toEqual(['a', 'b', 'c'])
    await expect(r.revoke(rawToken({ alg: 'ES256' }, { exp: soon() }, 'sig'))).rejects.toThrow(
      /no jti/,
    )
    await expect(r.revoke({ jti: 'd', exp: Number.NaN })).rejects.toThrow(/exp/)
    // An expired token needs no entry.
    await r.revoke({ jti: 'old', exp: 1 })
    expect(redis.zsets.get('portcullis:revoked:jti')?.has('old')).toBe(false)
  })

  it('fails closed once the copy is older than staleAfter', async () => {
    const redis = new FakeRedis()
    const r = list(redis)
    await r.refresh()
    redis.status = 'reconnecting'
    expect(r.isRevoked(principal('x'))).toBe(false)
    await new Promise((resolve) => setTimeout(resolve, 260))
    expect(() => r.isRevoked(principal('x'))).toThrow(/staleAfter/)
    redis.status = 'ready'
    await r.refresh()
    expect(r.isRevoked(principal('x'))).toBe(false)
  })

  it('a first load that fails rejects (the verifier answers 503)', async () => {
    const redis = new FakeRedis()
    redis.status = 'end'
    const r = list(redis)
    await expect(r.isRevoked(principal('x'))).rejects.toThrow(/redis connection is end/)
  })
})
