import { isPortcullisError, type RouteGuard } from '@portcullis/express'
import { bearer, createTestIssuer } from '@portcullis/testing'
import express from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import { accessCases, invalidGuardCases } from '../cases/access.js'
import { expectAccess, fetched } from '../cases/checks.js'
import { trustedTokens } from '../helpers.js'
import { guardedExpress, thrown, type GuardedExpress } from './helpers.js'

let current: GuardedExpress | undefined
afterEach(async () => {
  await current?.close()
  current = undefined
})

async function setup(
  routes: Parameters<typeof guardedExpress>[0],
  options: Parameters<typeof guardedExpress>[1] = {},
) {
  current = await guardedExpress(routes, options)
  const { issuer } = current
  const h = current
  return {
    ...h,
    async call(url: string, claims: Record<string, unknown> | null, method = 'GET') {
      const headers = claims === null ? {} : bearer(await issuer.token(claims))
      return h.request(url, { method, headers })
    },
  }
}

// The access decisions of the Fastify suite (test/cases/access.ts), against the Express adapter.
describe('the shared access cases', () => {
  it.each(accessCases)('$name', async ({ path, guard, requests, hidden = [] }) => {
    let runs = 0
    const t = await setup((app, g) => {
      app.get(path, g(guard), (_req, res) => {
        runs++
        res.send('ok')
      })
    })
    for (const r of requests) {
      expectAccess(fetched(await t.call(r.url, r.claims)), r, hidden, t.events.at(-1))
    }
    expect(runs).toBe(requests.filter((r) => r.status === 200).length)
  })
})

describe('invalid guards are refused, naming the field', () => {
  it.each(invalidGuardCases)('$name', async ({ guard, field }) => {
    current = await guardedExpress(() => undefined, { seal: false })
    const { guard: g } = current
    const app = express()
    // Most are refused by guard(...) itself, naming where it was called; what depends on the
    // route (a `{ param }` rule) by seal, naming the route.
    const err = thrown(() => {
      app.get('/v1/things/:id', g(guard as RouteGuard), (_req, res) => res.send('x'))
      g.seal(app)
    })
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe(field)
    expect(err.message).toMatch(
      /GET,HEAD \/v1\/things\/:id|guard\(\) at test\/express\/access\.test\.ts:\d+/,
    )
  })

  it('a route-dependent error names the route', async () => {
    current = await guardedExpress(() => undefined, { seal: false })
    const app = express()
    app.get('/v1/things/:id', current.guard({ claims: { sub: { param: 'userId' } } }), (_r, res) =>
      res.send('x'),
    )
    const err = thrown(() => current!.guard.seal(app))
    expect(err.route).toBe('GET,HEAD /v1/things/:id')
    expect(err.message).toMatch(
      /names route parameter ':userId', which this route does not have \(it has :id\)/,
    )
  })
})

describe('named policies, knownScopes and report-only, as on Fastify', () => {
  const policies = {
    readVideos: { scopes: ['videos:read'], callers: ['search-svc', 'player-svc'] },
    readOwnVideos: { extends: 'readVideos', claims: { sub: { param: 'userId' } } },
  }
  const reader = { sub: 'user-1', client_id: 'search-svc', scope: 'videos:read' }

  it('a route builds on a policy and may tighten it; the inventory shows the result', async () => {
    const t = await setup(
      (app, g) => {
        app.get('/v', g({ extends: 'readVideos', callers: ['search-svc'] }), (_q, r) =>
          r.send('ok'),
        )
        app.get('/u/:userId', g({ extends: 'readOwnVideos' }), (_q, r) => r.send('ok'))
      },
      { portcullis: { policies } },
    )
    expect((await t.call('/v', reader)).status).toBe(200)
    expect((await t.call('/v', { ...reader, client_id: 'player-svc' })).status).toBe(403)
    expect((await t.call('/u/user-1', reader)).status).toBe(200)
    expect((await t.call('/u/user-2', reader)).status).toBe(403)
    expect(t.guard.routes().find((r) => r.url === '/u/:userId')?.policy).toBe(
      'scopes: videos:read; callers: search-svc, player-svc; claims: sub = :userId',
    )
  })

  it("a route's scopes add to its policy's, and a policy's to the one it extends", async () => {
    const t = await setup(
      (app, g) => {
        app.get('/d', g({ extends: 'readVideos', scopes: ['videos:delete'] }), (_q, r) =>
          r.send('ok'),
        )
        app.get('/e', g({ extends: 'deleteVideos' }), (_q, r) => r.send('ok'))
        app.get('/f', g({ extends: 'readVideos', scopes: { anyOf: ['a', 'b'] } }), (_q, r) =>
          r.send('ok'),
        )
      },
      {
        portcullis: {
          policies: {
            ...policies,
            deleteVideos: { extends: 'readVideos', scopes: ['videos:delete'] },
          },
        },
      },
    )
    for (const url of ['/d', '/e']) {
      const own = await t.call(url, { ...reader, scope: 'videos:delete' })
      expect(own.status, url).toBe(403)
      expect(own.body).toContain('PCL_INSUFFICIENT_SCOPE')
      expect((await t.call(url, reader)).status, url).toBe(403)
      expect((await t.call(url, { ...reader, scope: 'videos:read videos:delete' })).status).toBe(
        200,
      )
    }
    expect((await t.call('/f', { ...reader, scope: 'a' })).status).toBe(403)
    expect((await t.call('/f', { ...reader, scope: 'videos:read' })).status).toBe(403)
    expect((await t.call('/f', { ...reader, scope: 'videos:read b' })).status).toBe(200)
  })

  it('merging keeps every requirement: authenticated, each check (async too), callers, claims', async () => {
    const order: string[] = []
    const t = await setup(
      (app, g) => {
        app.get('/a', g({ extends: 'loggedIn' }), (_q, r) => r.send('ok'))
        app.get(
          '/c',
          g({
            extends: 'asyncOwner',
            callers: ['search-svc'],
            check: (p) => (order.push('route'), p.subject === 'ok'),
          }),
          (_q, r) => r.send('ok'),
        )
        app.get('/t', g({ extends: 'gold', claims: { tier: 'gold', sub: 'ok' } }), (_q, r) =>
          r.send('ok'),
        )
      },
      {
        portcullis: {
          policies: {
            loggedIn: { authenticated: true },
            asyncOwner: {
              check: async (p) => (order.push('policy'), p.subject !== 'blocked'),
            },
            gold: { claims: { tier: 'gold' } },
          },
        },
      },
    )
    expect((await t.call('/a', null)).status).toBe(401)
    expect((await t.call('/a', { sub: 'u' })).status).toBe(200)
    const svc = { client_id: 'search-svc' }
    expect((await t.call('/c', { ...svc, sub: 'ok' })).status).toBe(200)
    expect(order).toEqual(['policy', 'route'])
    expect((await t.call('/c', { ...svc, sub: 'nope' })).status).toBe(403)
    expect((await t.call('/c', { ...svc, sub: 'blocked' })).status).toBe(403)
    expect((await t.call('/c', { client_id: 'other', sub: 'ok' })).status).toBe(403)
    expect((await t.call('/t', { sub: 'ok', tier: 'gold' })).status).toBe(200)
    expect((await t.call('/t', { sub: 'ok', tier: 'silver' })).status).toBe(403)
  })

  it('widening a policy, or an unknown one, is refused naming the field', async () => {
    current = await guardedExpress(() => undefined, { seal: false, portcullis: { policies } })
    const widened = thrown(() =>
      current!.guard({ extends: 'readVideos', callers: ['billing-svc'] }),
    )
    expect(widened.field).toBe('guard.callers')
    const unknown = thrown(() => current!.guard({ extends: 'readVidoes' }))
    expect(unknown.message).toMatch(/names no registered policy 'readVidoes'/)
  })

  it('a scope outside knownScopes is refused', async () => {
    current = await guardedExpress(() => undefined, {
      seal: false,
      portcullis: { knownScopes: ['videos:read'] },
    })
    const err = thrown(() => current!.guard({ scopes: { anyOf: ['videos:raed'] } }))
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe('guard.scopes')
    // The scopes of a response or body allowlist too.
    const typos: [RouteGuard, string][] = [
      [
        { scopes: ['videos:read'], response: { allow: ['id'], byScope: { 'videos:raed': ['t'] } } },
        'guard.response',
      ],
      [
        { scopes: ['videos:read'], body: { writable: ['t'], byScope: { 'videos:raed': ['x'] } } },
        'guard.body',
      ],
    ]
    for (const [guard, field] of typos) {
      const typo = thrown(() => current!.guard(guard))
      expect(isPortcullisError(typo, 'PCL_INVALID_GUARD')).toBe(true)
      expect(String(typo.field)).toContain(field)
      expect(typo.message).toContain('videos:raed')
    }
  })

  it('report-only evaluates every rule, reports the denial and serves the request', async () => {
    let runs = 0
    const t = await setup(
      (app, g) => {
        app.get('/v', g({ scopes: ['videos:read'] }), (_q, r) => {
          runs++
          r.send('ok')
        })
        app.get('/enforced', g({ scopes: ['a'], reportOnly: false }), (_q, r) => r.send('ok'))
      },
      { portcullis: { reportOnly: true } },
    )
    expect((await t.call('/v', { sub: 'u' })).status).toBe(200)
    expect(runs).toBe(1)
    expect(t.events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_INSUFFICIENT_SCOPE',
      reportOnly: true,
      status: 403,
    })
    expect((await t.call('/enforced', { sub: 'u' })).status).toBe(403)
    // Token failures stay enforced.
    expect((await t.call('/v', null)).status).toBe(401)
    expect(t.guard.routes().find((r) => r.url === '/v')?.policy).toBe(
      'REPORT-ONLY (not enforced): scopes: videos:read',
    )
  })

  it("'including-tokens' reports token failures too", async () => {
    const t = await setup(
      (app, g) => {
        app.get('/v', g({ scopes: ['videos:read'] }), (_q, r) => r.send('ok'))
      },
      { portcullis: { reportOnly: 'including-tokens' } },
    )
    expect((await t.call('/v', null)).status).toBe(200)
    const expired = await t.issuer.bad.expired()
    expect((await t.request('/v', { headers: bearer(expired) })).status).toBe(200)
    expect(t.events.filter((e) => e.reportOnly).map((e) => e.reason)).toEqual([
      'PCL_TOKEN_MISSING',
      'PCL_TOKEN_EXPIRED',
      'PCL_TOKEN_MISSING',
    ])
  })

  it("'including-tokens' reports only token failures: an outage is still refused", async () => {
    const issuer = await createTestIssuer()
    let runs = 0
    const t = await setup(
      (app, g) => {
        app.get('/v', g({ scopes: ['videos:read'] }), (_q, r) => {
          runs++
          r.send('ok')
        })
      },
      {
        issuer,
        portcullis: {
          reportOnly: 'including-tokens',
          tokens: {
            ...trustedTokens(issuer),
            isRevoked: () => {
              throw new Error('revocation store down')
            },
          },
        },
      },
    )
    const res = await t.call('/v', { sub: 'u', scope: 'videos:read' })
    expect(res.status).toBe(503)
    expect(res.json()).toMatchObject({ code: 'PCL_REVOCATION_UNAVAILABLE' })
    expect(runs).toBe(0)
    expect(t.events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_REVOCATION_UNAVAILABLE',
    })
    expect(t.events.at(-1)?.reportOnly).not.toBe(true)
  })
})

describe('audit events', () => {
  it('every decision carries its reason, route template, subject and client; never the token', async () => {
    const t = await setup((app, g) => {
      app.get('/v/:id', g({ scopes: ['videos:read'], callers: ['search-svc'] }), (_q, r) =>
        r.send('ok'),
      )
    })
    const token = await t.issuer.token({
      sub: 'user-1',
      client_id: 'search-svc',
      scope: 'videos:read',
    })
    await t.request('/v/1?x=secret-query', { headers: bearer(token) })
    await t.call('/v/2', { sub: 'user-1', client_id: 'x', scope: 'videos:read' })
    const [allow, deny] = t.events
    expect(allow).toMatchObject({
      type: 'portcullis.decision',
      decision: 'allow',
      reason: 'PCL_ALLOWED',
      method: 'GET',
      route: '/v/:id',
      subject: 'user-1',
      clientId: 'search-svc',
      issuer: t.issuer.issuer,
      status: null,
      ip: '127.0.0.1',
    })
    expect(allow!.durationMs).toBeGreaterThanOrEqual(0)
    expect(deny).toMatchObject({ decision: 'deny', reason: 'PCL_CALLER_NOT_ALLOWED', status: 403 })
    const everything = JSON.stringify(t.events) + t.logs.join('')
    expect(everything).not.toContain(token)
    expect(everything).not.toContain('secret-query')
  })

  it('go to the logger without a sink: deny at warn; a throwing sink is logged and ignored', async () => {
    const t = await setup(
      (app, g) => {
        app.get('/x', g({ authenticated: true }), (_q, r) => r.send('x'))
      },
      { audit: false },
    )
    await t.request('/x')
    const lines = t.logs.map((l) => JSON.parse(l) as Record<string, any>)
    expect(lines.find((l) => l.audit?.decision === 'deny')).toMatchObject({
      level: 'warn',
      audit: { reason: 'PCL_TOKEN_MISSING', route: '/x' },
    })
    await t.close()
    current = await guardedExpress(
      (app, g) => {
        app.get('/healthz', g({ public: 'probe' }), (_q, r) => r.send('ok'))
      },
      {
        portcullis: {
          audit: () => {
            throw new Error('sink down')
          },
        },
      },
    )
    expect((await current.request('/healthz')).status).toBe(200)
    expect(current.logs.join('')).toMatch(/audit sink threw/)
  })
})

describe('startup warnings', () => {
  it('a literal claim value that looks like a route parameter is logged by seal, with the fix', async () => {
    await setup((app, guard) => {
      app.get('/v1/users/:userId', guard({ claims: { sub: ':userId' } }), (_req, res) => {
        res.send('x')
      })
    })
    const warnings = current!.logs
      .map((line) => JSON.parse(line) as { level: string; message: string; field?: string })
      .filter((line) => line.level === 'warn' && line.field?.startsWith('guard.claims') === true)
    expect(warnings).toEqual([
      expect.objectContaining({
        field: 'guard.claims.sub',
        message: expect.stringMatching(
          /GET,HEAD \/v1\/users\/:userId: guard\.claims\.sub is the literal ':userId'.*\{ param: 'userId' \}$/,
        ),
      }),
    ])
  })
})
