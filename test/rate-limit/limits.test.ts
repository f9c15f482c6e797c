import { createTestIssuer } from '@portcullis/testing'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { expectLimitOutcome, expectLimitStep, injected } from '../cases/checks.js'
import { limitCases } from '../cases/rate-limits.js'
import { limitedApp, statuses, type LimitedApp } from './helpers.js'

let t: LimitedApp | undefined
afterEach(async () => {
  vi.useRealTimers()
  await t?.app.close()
  t = undefined
})

const alice = { sub: 'alice', client_id: 'player-svc', scope: 'videos:read' }
const bob = { sub: 'bob', client_id: 'player-svc', scope: 'videos:read' }

// The limits shared with the Express adapter's suite (test/cases/rate-limits.ts).
describe('the shared limit cases', () => {
  it.each(limitCases)('$name', async ({ rateLimit, routes, steps, runs, denials, inventory }) => {
    t = await limitedApp(
      (app, ran) => {
        for (const { method = 'GET', path, guard } of routes) {
          app.route({
            method,
            url: path,
            config: { guard },
            handler: () => {
              ran()
              return 'ok'
            },
          })
        }
      },
      { rateLimit: rateLimit ?? {} },
    )
    for (const [i, step] of steps.entries()) {
      const res = await t.call(step.url, step.claims, step.method ? { method: step.method } : {})
      expectLimitStep(injected(res), step, i)
    }
    expectLimitOutcome(
      { runs, denials, inventory },
      { runs: t.runs(), events: t.events, routes: t.app.portcullis.routes() },
    )
  })
})

describe('the default limit, per principal', () => {
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

describe('per-route limits', () => {
  it('guard.rateLimit replaces the default with its own key', async () => {
    t = await limitedApp((app) => {
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
    // By IP: alice and bob from one address share.
    expect((await t.call('/by-ip', alice)).statusCode).toBe(200)
    expect((await t.call('/by-ip', bob)).statusCode).toBe(200)
    expect((await t.call('/by-ip', bob)).statusCode).toBe(429)
    expect((await t.call('/by-ip', bob, { ip: '10.1.1.1' })).statusCode).toBe(200)
    const summaries = Object.fromEntries(
      t.app.portcullis.routes().map((r) => [`${r.method} ${r.url}`, r.rateLimit]),
    )
    expect(summaries).toMatchObject({ 'GET /by-ip': '2 per 90 seconds by ip' })
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
