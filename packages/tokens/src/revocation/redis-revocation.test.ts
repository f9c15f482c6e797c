import type { Principal } from '@portcullis/core'
import { rawToken } from '@portcullis/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createRedisRevocation, type RedisRevocation } from './redis-revocation.js'

// The revocation list against a Redis stand-in that implements the commands it sends (its two
// scripts, by what they do); the real thing, across instances, is test/fastify/revocation.test.ts.

class FakeRedis {
  status = 'ready'
  readonly strings = new Map<string, string>()
  readonly zsets = new Map<string, Map<string, number>>()
  readonly sent: string[] = []
  hold: Promise<void> | undefined

  call(command: string, ...args: (string | number)[]): Promise<unknown> {
    this.sent.push(command)
    const [first = '', , ...rest] = args.map(String)
    if (command === 'GET') return Promise.resolve(this.strings.get(first) ?? null)
    if (command === 'EVAL') {
      // The load script's answer, read now, can be held back (a slow round trip).
      const answer = this.script(rest)
      return rest.length === 3 && this.hold !== undefined
        ? this.hold.then(() => answer)
        : Promise.resolve(answer)
    }
    return Promise.reject(new Error(`unexpected ${command}`))
  }

  zset(key: string): Map<string, number> {
    const zset = this.zsets.get(key) ?? new Map<string, number>()
    this.zsets.set(key, zset)
    return zset
  }

  /** The record script (2 keys, score, member, now) or the load script (2 keys, min). */
  private script([list = '', other = '', ...argv]: string[]): unknown {
    if (argv.length === 3) {
      const [score, member = '', now] = argv
      const zset = this.zset(list)
      for (const [m, s] of zset) if (s <= Number(now)) zset.delete(m)
      zset.set(member, Number(score))
      const next = Number(this.strings.get(other) ?? 0) + 1
      this.strings.set(other, String(next))
      return next
    }
    const min = Number((argv[0] ?? '').replace('(', ''))
    const live = (key: string): [string, number][] => [...this.zset(key)].filter(([, s]) => s > min)
    return [live(list).flatMap(([m, s]) => [m, String(s)]), live(other).map(([m]) => m)]
  }
}

const principal = (jti: unknown): Principal => ({
  subject: 's',
  issuer: 'i',
  clientId: null,
  scopes: new Set<string>(),
  claims: { jti },
})

const now = (): number => Math.floor(Date.now() / 1000)

const token = (claims: Record<string, unknown>, clientId: string | null = null): Principal => ({
  subject: typeof claims.sub === 'string' ? claims.sub : 'someone',
  issuer: 'https://idp',
  clientId,
  scopes: new Set<string>(),
  claims,
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
    redis.zsets.set('{portcullis:revoked:}jti', new Map([['gone', soon()]]))
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
    expect([...(redis.zsets.get('{portcullis:revoked:}jti')?.keys() ?? [])]).toEqual([
      'a',
      'b',
      'c',
    ])
    await expect(r.revoke(rawToken({ alg: 'ES256' }, { exp: soon() }, 'sig'))).rejects.toThrow(
      /no jti/,
    )
    await expect(r.revoke({ jti: 'd', exp: Number.NaN })).rejects.toThrow(/exp/)
    // An expired token needs no entry.
    await r.revoke({ jti: 'old', exp: 1 })
    expect(redis.zsets.get('{portcullis:revoked:}jti')?.has('old')).toBe(false)
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

  describe('by subject, session and client', () => {
    it('refuses tokens issued at or before issuedBefore, passes later ones', async () => {
      const redis = new FakeRedis()
      const r = list(redis)
      await r.refresh()
      const t = now() - 100
      await r.revokeSubject('https://idp', 'alice', { issuedBefore: t })
      expect(r.isRevoked(token({ sub: 'alice', iat: t - 1 }))).toBe(true)
      expect(r.isRevoked(token({ sub: 'alice', iat: t }))).toBe(true)
      expect(r.isRevoked(token({ sub: 'alice', iat: t + 1 }))).toBe(false)
      // Fail closed: a token of that subject without a (numeric) iat is covered.
      expect(r.isRevoked(token({ sub: 'alice' }))).toBe(true)
      expect(r.isRevoked(token({ sub: 'alice', iat: String(t + 1) }))).toBe(true)
      // Another subject, or the same subject of another issuer, is not.
      expect(r.isRevoked(token({ sub: 'bob', iat: t - 1 }))).toBe(false)
      expect(r.isRevoked({ ...token({ sub: 'alice', iat: t - 1 }), issuer: 'https://other' })).toBe(
        false,
      )
    })

    it('sessions by sid, clients by clientId; the default issuedBefore is now', async () => {
      const redis = new FakeRedis()
      const r = list(redis)
      await r.refresh()
      const t = now()
      await r.revokeSession('https://idp', 's-1')
      await r.revokeClient('https://idp', 'batch', { issuedBefore: new Date((t - 50) * 1000) })
      expect(r.isRevoked(token({ sid: 's-1', iat: t }))).toBe(true)
      expect(r.isRevoked(token({ sid: 's-1', iat: t + 2 }))).toBe(false)
      expect(r.isRevoked(token({ sid: 's-2', iat: t - 10 }))).toBe(false)
      expect(r.isRevoked(token({ iat: t - 50 }, 'batch'))).toBe(true)
      expect(r.isRevoked(token({ iat: t - 49 }, 'batch'))).toBe(false)
      // A client id is not a subject: the kinds do not mix.
      expect(r.isRevoked(token({ sub: 'batch', iat: t - 60 }))).toBe(false)
    })

    it('another instance loads them; the latest issuedBefore of one subject wins', async () => {
      const redis = new FakeRedis()
      const a = list(redis)
      const b = list(redis)
      await Promise.all([a.refresh(), b.refresh()])
      const t = now() - 100
      await a.revokeSubject('https://idp', 'alice', { issuedBefore: t + 10 })
      await a.revokeSubject('https://idp', 'alice', { issuedBefore: t })
      await b.refresh()
      expect(b.isRevoked(token({ sub: 'alice', iat: t + 10 }))).toBe(true)
      expect(b.isRevoked(token({ sub: 'alice', iat: t + 11 }))).toBe(false)
    })

    it('keeps an entry for maxTokenLifetime plus 5 minutes, and none when it would have lapsed', async () => {
      const redis = new FakeRedis()
      const r = list(redis, { maxTokenLifetime: '1h' })
      await r.refresh()
      const t = now() - 100
      await r.revokeSubject('https://idp', 'alice', { issuedBefore: t })
      const entries = [...redis.zset('{portcullis:revoked:}issued-before')]
      expect(entries).toEqual([[JSON.stringify(['sub', 'https://idp', 'alice', t]), t + 3900]])
      await r.revokeSubject('https://idp', 'old', { issuedBefore: now() - 3901 })
      expect(redis.zset('{portcullis:revoked:}issued-before').size).toBe(1)
      expect(r.isRevoked(token({ sub: 'old' }))).toBe(false)
    })

    it('hash-tags its keys by the prefix, or by the tag a prefix has', async () => {
      for (const [prefix, tag] of [
        ['app:', '{app:}'],
        ['app:{rev}:', 'app:{rev}:'],
        ['a{}b:', '{a%7b%7db:}'],
      ] as const) {
        const redis = new FakeRedis()
        const r = list(redis, { prefix })
        await r.refresh()
        await r.revoke({ jti: 'j', exp: soon() })
        await r.revokeSession('https://idp', 's')
        expect([...redis.zsets.keys()].sort()).toEqual([`${tag}issued-before`, `${tag}jti`])
        expect([...redis.strings.keys()]).toEqual([`${tag}version`])
      }
    })

    it("a load in flight while this instance revokes does not drop the instance's revocation", async () => {
      const redis = new FakeRedis()
      const r = list(redis)
      await r.refresh()
      // Another instance's revocation changes the version: the next load reads the list...
      await list(redis).revokeClient('https://idp', 'other')
      let release = (): void => undefined
      redis.hold = new Promise((resolve) => (release = resolve))
      const loading = r.refresh()
      await new Promise((resolve) => setTimeout(resolve, 5))
      // ...before this revocation lands; its answer comes back after.
      await r.revokeSubject('https://idp', 'alice')
      await r.revoke({ jti: 'mine', exp: soon() })
      release()
      await loading
      expect(r.isRevoked(token({ sub: 'alice', iat: now() - 1 }))).toBe(true)
      expect(r.isRevoked(principal('mine'))).toBe(true)
      expect(r.isRevoked(token({ iat: now() - 1 }, 'other'))).toBe(true)
    })

    it('refuses arguments that cannot be meant', async () => {
      const r = list(new FakeRedis())
      await expect(r.revokeSubject('', 'alice')).rejects.toThrow(/issuer/)
      await expect(r.revokeSession('https://idp', '')).rejects.toThrow(/sid/)
      await expect(r.revokeClient('https://idp', 7 as never)).rejects.toThrow(/client/)
      // Milliseconds where seconds are expected would revoke for ever.
      await expect(
        r.revokeSubject('https://idp', 'alice', { issuedBefore: Date.now() }),
      ).rejects.toThrow(/milliseconds/)
      await expect(
        r.revokeSubject('https://idp', 'alice', { issuedBefore: Number.NaN }),
      ).rejects.toThrow(/issuedBefore/)
      expect(() => createRedisRevocation({ redis: new FakeRedis(), maxTokenLifetime: 10 })).toThrow(
        /maxTokenLifetime/,
      )
    })
  })
})
