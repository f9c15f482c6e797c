import { createTestIssuer } from '@portcullis/testing'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { limitedApp, statuses, type LimitedApp } from './helpers.js'

let t: LimitedApp | undefined
afterEach(async () => {
  vi.useRealTimers()
  await t?.app.close()
  t = undefined
})

const alice = { sub: 'alice', client_id: 'player-svc', scope: 'videos:read' }
const bob = { sub: 'bob', client_id: 'player-svc', scope: 'videos:read' }

describe('the default limit, per principal', () => {
  it('allows max requests per window, then 429 problem+json with Retry-After and RateLimit headers', async () => {
    t = await limitedApp((app, ran) => {
      app.get('/v/:id', { config: { guard: { scopes: 'videos:read' } } }, () => {
        ran()
        return { ok: true }
      })
    })
    const first = await t.call('/v/1', alice)
    expect(first.statusCode).toBe(200)
    expect(first.headers).toMatchObject({
      'ratelimit-limit': '3',
      'ratelimit-remaining': '2',
      'ratelimit-reset': '60',
    })
    expect((await t.call('/v/1', alice)).headers['ratelimit-remaining']).toBe('1')
    expect((await t.call('/v/1', alice)).headers['ratelimit-remaining']).toBe('0')
    const limited = await t.call('/v/1', alice)
    expect(limited.statusCode).toBe(429)
    expect(limited.headers['content-type']).toBe('application/problem+json')
    expect(limited.json()).toEqual({
      type: expect.stringContaining('#pcl_rate_limited'),
      title: 'Too many requests',
      status: 429,
      code: 'PCL_RATE_LIMITED',
    })
    expect(limited.headers).toMatchObject({
      'retry-after': '60',
      'ratelimit-limit': '3',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '60',
    })
    expect(limited.headers['www-authenticate']).toBeUndefined()
    expect(t.runs()).toBe(3)
    const denials = t.events.filter((e) => e.decision === 'deny')
    expect(denials).toEqual([
      expect.objectContaining({
        type: 'portcullis.decision',
        reason: 'PCL_RATE_LIMITED',
        status: 429,
        method: 'GET',
        route: '/v/:id',
        subject: 'alice',
        clientId: 'player-svc',
      }),
    ])
  })

  it('counts two principals independently', async () => {
    t = await limitedApp((app) => {
      app.get('/v', { config: { guard: { authenticated: true } } }, () => 'ok')
    })
    expect(await statuses(4, () => t!.call('/v', alice))).toEqual([200, 200, 200, 429])
    expect(await statuses(4, () => t!.call('/v', bob))).toEqual([200, 200, 200, 429])
  })

  it('one principal calling from many IPs shares one budget', async () => {
    t = await limitedApp((app) => {
      app.get('/v', { config: { guard: { authenticated: true } } }, () => 'ok')
    })
    const ips = ['10.0.0.1', '10.0.0.2', '192.168.1.9', '2001:db8::1', '2001:db8:1::1']
    const codes: number[] = []
    for (const ip of ips) codes.push((await t.call('/v', alice, { ip })).statusCode)
    expect(codes).toEqual([200, 200, 200, 429, 429])
  })

  it('the same subject from two issuers is two principals', async () => {
    const other = await createTestIssuer({ issuer: 'https://other.test', audience: 'videos-api' })
    t = await limitedApp(
      (app) => {
        app.get('/v', { config: { guard: { authenticated: true } } }, () => 'ok')
      },
      { others: [other] },
    )
    expect(await statuses(4, () => t!.call('/v', alice))).toEqual([200, 200, 200, 429])
    expect((await t.call('/v', alice, { issuer: other })).statusCode).toBe(200)
  })

  it('does not count anonymous requests refused before it (401), nor against the IP', async () => {
    t = await limitedApp(
      (app) => {
        app.get('/v', { config: { guard: { authenticated: true } } }, () => 'ok')
      },
      { rateLimit: { key: 'ip' } },
    )
    const anonymous = await statuses(10, () => t!.call('/v', null))
    expect(anonymous.every((code) => code === 401)).toBe(true)
    expect(await statuses(4, () => t!.call('/v', alice))).toEqual([200, 200, 200, 429])
  })

  it('runs after the policy: requests it refuses (403) are not counted', async () => {
    t = await limitedApp((app, ran) => {
      app.get('/v', { config: { guard: { scopes: 'videos:write' } } }, () => {
        ran()
        return 'ok'
      })
    })
    const refused = await statuses(5, () => t!.call('/v', { sub: 'bob', scope: 'videos:read' }))
    expect(refused).toEqual([403, 403, 403, 403, 403])
    const writer = { sub: 'bob', scope: 'videos:write' }
    expect(await statuses(4, () => t!.call('/v', writer))).toEqual([200, 200, 200, 429])
    expect(t.runs()).toBe(3)
  })

  it('starts a fresh window once the window has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    t = await limitedApp((app) => {
      app.get('/v', { config: { guard: { authenticated: true } } }, () => 'ok')
    })
    expect(await statuses(4, () => t!.call('/v', alice))).toEqual([200, 200, 200, 429])
    vi.setSystemTime(Date.now() + 30_000)
    const later = await t.call('/v', alice)
    expect(later.statusCode).toBe(429)
    expect(later.headers['retry-after']).toBe('30')
    vi.setSystemTime(Date.now() + 30_001)
    expect((await t.call('/v', alice)).statusCode).toBe(200)
  })
})

describe('key space', () => {
  it('is the route template, never the raw URL: /v/1 and /v/2 share one budget', async () => {
    t = await limitedApp((app) => {
      app.get('/v/:id', { config: { guard: { authenticated: true } } }, () => 'ok')
      app.get('/w/:id', { config: { guard: { authenticated: true } } }, () => 'ok')
    })
    const codes: number[] = []
    for (const url of ['/v/1', '/v/2', '/v/3?x=1', '/v/4']) {
      codes.push((await t.call(url, alice)).statusCode)
    }
    expect(codes).toEqual([200, 200, 200, 429])
    // Another route has its own budget.
    expect((await t.call('/w/1', alice)).statusCode).toBe(200)
  })

  it('HEAD counts against its GET route; other methods have their own budget', async () => {
    t = await limitedApp((app, ran) => {
      app.get('/v/:id', { config: { guard: { authenticated: true } } }, () => {
        ran()
        return 'ok'
      })
      app.post('/v/:id', { config: { guard: { authenticated: true } } }, () => 'created')
    })
    const codes: number[] = []
    for (const method of ['GET', 'HEAD', 'GET', 'HEAD', 'GET'] as const) {
      codes.push((await t.call('/v/1', alice, { method })).statusCode)
    }
    expect(codes).toEqual([200, 200, 200, 429, 429])
    expect((await t.call('/v/1', alice, { method: 'POST' })).statusCode).toBe(200)
  })

  it('a named bucket is one budget shared by the routes naming it', async () => {
    const search = { max: 3, timeWindow: '1 minute', bucket: 'search' }
    t = await limitedApp((app) => {
      app.get(
        '/search/videos',
        { config: { guard: { authenticated: true, rateLimit: search } } },
        () => 'ok',
      )
      app.get(
        '/search/users',
        { config: { guard: { authenticated: true, rateLimit: search } } },
        () => 'ok',
      )
      app.get('/other', { config: { guard: { authenticated: true } } }, () => 'ok')
    })
    const codes: number[] = []
    for (const url of ['/search/videos', '/search/users', '/search/videos', '/search/users']) {
      codes.push((await t.call(url, alice)).statusCode)
    }
    expect(codes).toEqual([200, 200, 200, 429])
    expect((await t.call('/other', alice)).statusCode).toBe(200)
    const inventory = t.app.portcullis.routes().filter((r) => r.method === 'GET')
    expect(inventory.map((r) => [r.url, r.rateLimit])).toEqual([
      ['/other', '3 per 1 minute by principal'],
      ['/search/users', '3 per 1 minute by principal (bucket search)'],
      ['/search/videos', '3 per 1 minute by principal (bucket search)'],
    ])
  })
})

describe('per-route limits', () => {
  it('guard.rateLimit replaces the default, with its own window and key', async () => {
    t = await limitedApp((app) => {
      app.get(
        '/strict',
        { config: { guard: { authenticated: true, rateLimit: { max: 1, timeWindow: 10_000 } } } },
        () => 'ok',
      )
      app.get(
        '/by-ip',
        {
          config: {
            guard: { authenticated: true, rateLimit: { max: 2, timeWindow: '90s', key: 'ip' } },
          },
        },
        () => 'ok',
      )
    })
    expect(await statuses(2, () => t!.call('/strict', alice))).toEqual([200, 429])
    const limited = await t.call('/strict', alice)
    expect(limited.headers['retry-after']).toBe('10')
    expect(limited.headers['ratelimit-limit']).toBe('1')
    // By IP: alice and bob from one address share.
    expect((await t.call('/by-ip', alice)).statusCode).toBe(200)
    expect((await t.call('/by-ip', bob)).statusCode).toBe(200)
    expect((await t.call('/by-ip', bob)).statusCode).toBe(429)
    expect((await t.call('/by-ip', bob, { ip: '10.1.1.1' })).statusCode).toBe(200)
    const summaries = Object.fromEntries(
      t.app.portcullis.routes().map((r) => [`${r.method} ${r.url}`, r.rateLimit]),
    )
    expect(summaries).toMatchObject({
      'GET /strict': '1 per 10 seconds by principal',
      'GET /by-ip': '2 per 90 seconds by ip',
    })
  })

  it('{ exempt: reason } leaves the route unlimited and shows the reason in the inventory', async () => {
    t = await limitedApp((app) => {
      app.get(
        '/stream',
        {
          config: {
            guard: {
              authenticated: true,
              rateLimit: { exempt: 'long-poll endpoint, one call per client' },
            },
          },
        },
        () => 'ok',
      )
    })
    const codes = await statuses(10, () => t!.call('/stream', alice))
    expect(codes.every((code) => code === 200)).toBe(true)
    expect((await t.call('/stream', alice)).headers['ratelimit-limit']).toBeUndefined()
    expect(t.app.portcullis.routes().map((r) => r.rateLimit)).toEqual([
      'exempt: long-poll endpoint, one call per client',
      'exempt: long-poll endpoint, one call per client',
    ])
  })

  it('overrides give principal-dependent limits, declared as data; the first match wins', async () => {
    t = await limitedApp((app) => {
      app.get(
        '/export',
        {
          config: {
            guard: {
              scopes: 'videos:read',
              rateLimit: {
                max: 2,
                timeWindow: '1 minute',
                overrides: [
                  { when: { callers: ['indexer-svc'], scopes: ['videos:bulk'] }, max: 5 },
                  { when: { callers: ['indexer-svc'] }, max: 3 },
                ],
              },
            },
          },
        },
        () => 'ok',
      )
    })
    const bulk = { sub: 'indexer', client_id: 'indexer-svc', scope: 'videos:read videos:bulk' }
    const plain = { sub: 'indexer-2', client_id: 'indexer-svc', scope: 'videos:read' }
    const other = { sub: 'u', client_id: 'player-svc', scope: 'videos:read videos:bulk' }
    expect(await statuses(6, () => t!.call('/export', bulk))).toEqual([
      200, 200, 200, 200, 200, 429,
    ])
    expect(await statuses(4, () => t!.call('/export', plain))).toEqual([200, 200, 200, 429])
    expect(await statuses(3, () => t!.call('/export', other))).toEqual([200, 200, 429])
    expect((await t.call('/export', bulk)).headers['ratelimit-limit']).toBe('5')
    expect(t.app.portcullis.routes()[0]?.rateLimit).toBe(
      '2 per 1 minute by principal; 5 for callers indexer-svc with scopes videos:bulk; 3 for callers indexer-svc',
    )
  })

  it('comes with extends and prefix defaults like the rest of the guard', async () => {
    t = await limitedApp(
      async (app) => {
        app.get('/named', { config: { guard: { extends: 'reader' } } }, () => 'ok')
        await app.register(
          async (admin) => {
            admin.get('/users', { config: { guard: { scopes: 'admin' } } }, () => 'ok')
          },
          { prefix: '/admin', guard: { rateLimit: { max: 1, timeWindow: '1 hour' } } },
        )
      },
      {
        policy: {
          policies: {
            reader: { scopes: 'videos:read', rateLimit: { max: 2, timeWindow: '1 minute' } },
          },
        },
      },
    )
    expect(await statuses(3, () => t!.call('/named', alice))).toEqual([200, 200, 429])
    const admin = { sub: 'root', scope: 'admin' }
    expect(await statuses(2, () => t!.call('/admin/users', admin))).toEqual([200, 429])
    expect(
      t.app.portcullis
        .routes()
        .filter((r) => r.method === 'GET')
        .map((r) => r.rateLimit),
    ).toEqual(['1 per 1 hour by principal', '2 per 1 minute by principal'])
  })

  it('a report-only route reports the 429 it would send and serves the request', async () => {
    t = await limitedApp((app, ran) => {
      app.get('/new', { config: { guard: { authenticated: true, reportOnly: true } } }, () => {
        ran()
        return 'ok'
      })
    })
    expect(await statuses(5, () => t!.call('/new', alice))).toEqual([200, 200, 200, 200, 200])
    expect(t.runs()).toBe(5)
    const reported = t.events.filter((e) => e.reason === 'PCL_RATE_LIMITED')
    expect(reported).toHaveLength(2)
    expect(reported[0]).toMatchObject({ decision: 'deny', reportOnly: true, status: 429 })
  })
})

describe('public routes', () => {
  it('count by IP, with or without a token', async () => {
    t = await limitedApp((app) => {
      app.get('/healthz', { config: { guard: { public: 'liveness probe' } } }, () => 'ok')
    })
    const codes = [
      (await t.call('/healthz', null)).statusCode,
      (await t.call('/healthz', alice)).statusCode,
      (await t.call('/healthz', bob)).statusCode,
      (await t.call('/healthz', null)).statusCode,
    ]
    expect(codes).toEqual([200, 200, 200, 429])
    expect((await t.call('/healthz', null, { ip: '10.9.9.9' })).statusCode).toBe(200)
    expect(t.app.portcullis.routes()[0]?.rateLimit).toBe('3 per 1 minute by ip (public)')
  })

  it('IPv6 clients count per /64, so rotating through one prefix does not reset the limit', async () => {
    t = await limitedApp((app) => {
      app.get('/healthz', { config: { guard: { public: 'probe' } } }, () => 'ok')
    })
    const codes: number[] = []
    for (const ip of ['2001:db8::1', '2001:db8::2', '2001:db8::ffff:1', '2001:db8::abcd']) {
      codes.push((await t.call('/healthz', null, { ip })).statusCode)
    }
    expect(codes).toEqual([200, 200, 200, 429])
    expect((await t.call('/healthz', null, { ip: '2001:db8:0:1::1' })).statusCode).toBe(200)
  })
})

describe('keys', () => {
  it("'client' counts every principal of one client together; no client falls back to the principal", async () => {
    t = await limitedApp(
      (app) => {
        app.get('/v', { config: { guard: { authenticated: true } } }, () => 'ok')
      },
      { rateLimit: { key: 'client' } },
    )
    const codes = [
      (await t.call('/v', alice)).statusCode,
      (await t.call('/v', bob)).statusCode,
      (await t.call('/v', { sub: 'carol', client_id: 'player-svc' })).statusCode,
      (await t.call('/v', { sub: 'dave', client_id: 'player-svc' })).statusCode,
    ]
    expect(codes).toEqual([200, 200, 200, 429])
    expect((await t.call('/v', { sub: 'erin', client_id: 'search-svc' })).statusCode).toBe(200)
    expect(await statuses(4, () => t!.call('/v', { sub: 'no-client' }))).toEqual([
      200, 200, 200, 429,
    ])
    expect((await t.call('/v', { sub: 'other-no-client' })).statusCode).toBe(200)
    expect(t.app.portcullis.routes()[0]?.rateLimit).toBe('3 per 1 minute by client')
  })

  it("'ip' counts every principal of one address together", async () => {
    t = await limitedApp(
      (app) => {
        app.get('/v', { config: { guard: { authenticated: true } } }, () => 'ok')
      },
      { rateLimit: { key: 'ip' } },
    )
    const codes = [
      (await t.call('/v', alice)).statusCode,
      (await t.call('/v', bob)).statusCode,
      (await t.call('/v', { sub: 'carol' })).statusCode,
      (await t.call('/v', { sub: 'dave' })).statusCode,
    ]
    expect(codes).toEqual([200, 200, 200, 429])
    expect((await t.call('/v', alice, { ip: '10.0.0.7' })).statusCode).toBe(200)
  })

  it('a key function of the principal and request', async () => {
    t = await limitedApp(
      (app) => {
        app.get('/t/:tenant', { config: { guard: { authenticated: true } } }, () => 'ok')
      },
      {
        rateLimit: {
          key: function byTenant(principal) {
            return String(principal.claims.tenant)
          },
        },
      },
    )
    const codes = [
      (await t.call('/t/a', { sub: 'u1', tenant: 'acme' })).statusCode,
      (await t.call('/t/a', { sub: 'u2', tenant: 'acme' })).statusCode,
      (await t.call('/t/a', { sub: 'u3', tenant: 'acme' })).statusCode,
      (await t.call('/t/a', { sub: 'u4', tenant: 'acme' })).statusCode,
    ]
    expect(codes).toEqual([200, 200, 200, 429])
    expect((await t.call('/t/a', { sub: 'u1', tenant: 'globex' })).statusCode).toBe(200)
    expect(t.app.portcullis.routes()[0]?.rateLimit).toBe('3 per 1 minute by key function byTenant')
  })

  it('a key function that throws refuses the request with 503; the handler never runs', async () => {
    t = await limitedApp(
      (app, ran) => {
        app.get('/v', { config: { guard: { authenticated: true } } }, () => {
          ran()
          return 'ok'
        })
        app.get(
          '/w',
          {
            config: {
              guard: {
                authenticated: true,
                rateLimit: { max: 3, timeWindow: 1000, key: () => 42 as unknown as string },
              },
            },
          },
          () => {
            ran()
            return 'ok'
          },
        )
      },
      {
        rateLimit: {
          key: () => {
            throw new Error('secret internal detail')
          },
          onStoreError: 'fail-open',
        },
      },
    )
    for (const url of ['/v', '/w']) {
      const res = await t.call(url, alice)
      expect(res.statusCode).toBe(503)
      expect(res.json()).toMatchObject({ code: 'PCL_STORE_UNAVAILABLE', status: 503 })
      expect(res.body).not.toContain('secret')
    }
    expect(t.runs()).toBe(0)
    expect(t.logs.some((line) => line.includes('key function failed'))).toBe(true)
    expect(t.events.filter((e) => e.decision === 'deny').map((e) => e.reason)).toEqual([
      'PCL_STORE_UNAVAILABLE',
      'PCL_STORE_UNAVAILABLE',
    ])
  })
})

describe('client addresses and proxies', () => {
  it('trustProxy off: a spoofed X-Forwarded-For does not reset an IP limit', async () => {
    t = await limitedApp((app) => {
      app.get('/healthz', { config: { guard: { public: 'probe' } } }, () => 'ok')
      app.get(
        '/v',
        {
          config: {
            guard: { authenticated: true, rateLimit: { max: 3, timeWindow: 60_000, key: 'ip' } },
          },
        },
        () => 'ok',
      )
    })
    for (const url of ['/healthz', '/v']) {
      const codes: number[] = []
      for (let i = 0; i < 5; i++) {
        const claims = url === '/v' ? { sub: `user-${i}` } : null
        const res = await t.call(url, claims, { headers: { 'x-forwarded-for': `203.0.113.${i}` } })
        codes.push(res.statusCode)
      }
      expect(codes).toEqual([200, 200, 200, 429, 429])
    }
  })

  it('trustProxy on: the forwarded address is the client', async () => {
    t = await limitedApp(
      (app) => {
        app.get('/healthz', { config: { guard: { public: 'probe' } } }, () => 'ok')
      },
      { fastify: { trustProxy: true } },
    )
    const from = (ip: string) => t!.call('/healthz', null, { headers: { 'x-forwarded-for': ip } })
    expect(await statuses(4, () => from('203.0.113.1'))).toEqual([200, 200, 200, 429])
    expect((await from('203.0.113.2')).statusCode).toBe(200)
  })
})

describe('headers', () => {
  it('headers: false sends no RateLimit headers; a 429 still carries Retry-After', async () => {
    t = await limitedApp(
      (app) => {
        app.get('/v', { config: { guard: { authenticated: true } } }, () => 'ok')
      },
      { rateLimit: { headers: false, max: 1 } },
    )
    const ok = await t.call('/v', alice)
    expect(Object.keys(ok.headers).filter((h) => h.includes('ratelimit'))).toEqual([])
    const limited = await t.call('/v', alice)
    expect(limited.statusCode).toBe(429)
    expect(limited.headers['retry-after']).toBe('60')
    expect(Object.keys(limited.headers).filter((h) => h.includes('ratelimit'))).toEqual([])
  })

  it("headers: 'x-ratelimit' uses the X-RateLimit-* names", async () => {
    t = await limitedApp(
      (app) => {
        app.get('/v', { config: { guard: { authenticated: true } } }, () => 'ok')
      },
      { rateLimit: { headers: 'x-ratelimit' } },
    )
    expect((await t.call('/v', alice)).headers).toMatchObject({
      'x-ratelimit-limit': '3',
      'x-ratelimit-remaining': '2',
      'x-ratelimit-reset': '60',
    })
  })
})
