import { isPortcullisError, type AuditEvent } from '@portcullis/fastify'
import { bearer, createTestIssuer } from '@portcullis/testing'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { accessCases } from '../cases/access.js'
import { expectAccess, injected } from '../cases/checks.js'
import { guardedApp, readyError, trustedTokens, type GuardedApp } from '../helpers.js'

let current: GuardedApp | undefined
afterEach(async () => {
  await current?.app.close().catch(() => undefined)
  current = undefined
})

/** Builds an app whose route handlers count their runs, and a `call` that mints a token. */
async function setup(
  routes: (app: FastifyInstance, ran: () => void) => void | Promise<void>,
  portcullis: Parameters<typeof guardedApp>[1] extends infer O
    ? O extends { portcullis?: infer P }
      ? P
      : never
    : never = {},
) {
  let runs = 0
  current = await guardedApp((app) => routes(app, () => void runs++), { portcullis })
  const { app, issuer, events } = current
  return {
    app,
    events,
    runs: () => runs,
    async call(
      url: string,
      claims: Record<string, unknown> | null,
      method: 'GET' | 'POST' = 'GET',
    ) {
      const headers = claims === null ? {} : bearer(await issuer.token(claims))
      return app.inject({ method, url, headers })
    },
  }
}

const reader = { sub: 'user-1', client_id: 'search-svc', scope: 'videos:read' }

// The access decisions shared with the Express adapter's suite (test/cases/access.ts).
describe('the shared access cases', () => {
  it.each(accessCases)('$name', async ({ path, guard, requests, hidden = [] }) => {
    const t = await setup((app, ran) => {
      app.get(path, { config: { guard } }, () => {
        ran()
        return 'ok'
      })
    })
    for (const r of requests) {
      expectAccess(injected(await t.call(r.url, r.claims)), r, hidden, t.events.at(-1))
    }
    expect(t.runs()).toBe(requests.filter((r) => r.status === 200).length)
  })
})

describe('check', () => {
  it('runs last, after the declarative rules pass; only true allows', async () => {
    const seen: string[] = []
    const t = await setup((app) => {
      app.get(
        '/c/:id',
        {
          config: {
            guard: {
              scopes: ['videos:read'],
              check: function isOwner(principal, request) {
                seen.push(principal.subject)
                return (request.params as { id: string }).id === principal.subject
              },
            },
          },
        },
        () => 'ok',
      )
    })
    expect((await t.call('/c/u1', { sub: 'u1' })).statusCode).toBe(403)
    expect(seen).toEqual([]) // the scope failed first: check never ran
    expect((await t.call('/c/u1', { sub: 'u1', scope: 'videos:read' })).statusCode).toBe(200)
    const res = await t.call('/c/u2', { sub: 'u1', scope: 'videos:read' })
    expect(res.statusCode).toBe(403)
    expect(res.json()).toMatchObject({ code: 'PCL_CHECK_DENIED' })
    expect(t.app.portcullis.routes()[0]?.policy).toBe('scopes: videos:read; check: isOwner')
  })
})

describe('combined rules and order', () => {
  it('a refused caller never makes the service parse the body', async () => {
    let parsed = 0
    const t = await setup((app) => {
      app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
        parsed++
        done(null, JSON.parse(body as string))
      })
      app.post('/p', { config: { guard: { callers: ['search-svc'] } } }, () => 'ok')
    })
    const token = await current!.issuer.token({ sub: 'u', client_id: 'evil' })
    const res = await t.app.inject({
      method: 'POST',
      url: '/p',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: JSON.stringify({ big: 'x'.repeat(1000) }),
    })
    expect(res.statusCode).toBe(403)
    expect(parsed).toBe(0)
  })
})

describe('named policies (extends)', () => {
  const policies = {
    readVideos: { scopes: ['videos:read'], callers: ['search-svc', 'player-svc'] },
    readOwnVideos: { extends: 'readVideos', claims: { sub: { param: 'userId' } } },
  }

  it('a route builds on a policy and may tighten it', async () => {
    const t = await setup(
      (app) => {
        app.get(
          '/v',
          { config: { guard: { extends: 'readVideos', callers: ['search-svc'] } } },
          () => 'ok',
        )
        app.get('/u/:userId', { config: { guard: { extends: 'readOwnVideos' } } }, () => 'ok')
      },
      { policies },
    )
    expect((await t.call('/v', reader)).statusCode).toBe(200)
    expect((await t.call('/v', { ...reader, client_id: 'player-svc' })).statusCode).toBe(403)
    expect((await t.call('/v', { ...reader, scope: '' })).statusCode).toBe(403)
    expect((await t.call('/u/user-1', reader)).statusCode).toBe(200)
    expect((await t.call('/u/user-2', reader)).statusCode).toBe(403)
    const rows = t.app.portcullis.routes()
    expect(rows.find((r) => r.url === '/u/:userId')?.policy).toBe(
      'scopes: videos:read; callers: search-svc, player-svc; claims: sub = :userId',
    )
  })

  it("a route's scopes add to its policy's, and a policy's to the one it extends", async () => {
    const t = await setup(
      (app) => {
        app.get(
          '/d',
          { config: { guard: { extends: 'readVideos', scopes: ['videos:delete'] } } },
          () => 'ok',
        )
        app.get('/e', { config: { guard: { extends: 'deleteVideos' } } }, () => 'ok')
        app.get(
          '/f',
          { config: { guard: { extends: 'readVideos', scopes: { anyOf: ['a', 'b'] } } } },
          () => 'ok',
        )
      },
      {
        policies: {
          ...policies,
          deleteVideos: { extends: 'readVideos', scopes: ['videos:delete'] },
        },
      },
    )
    for (const url of ['/d', '/e']) {
      const own = await t.call(url, { ...reader, scope: 'videos:delete' })
      expect(own.statusCode, url).toBe(403)
      expect(own.json()).toMatchObject({ code: 'PCL_INSUFFICIENT_SCOPE' })
      expect((await t.call(url, reader)).statusCode, url).toBe(403)
      expect(
        (await t.call(url, { ...reader, scope: 'videos:read videos:delete' })).statusCode,
      ).toBe(200)
    }
    expect((await t.call('/f', { ...reader, scope: 'a' })).statusCode).toBe(403)
    expect((await t.call('/f', { ...reader, scope: 'videos:read' })).statusCode).toBe(403)
    expect((await t.call('/f', { ...reader, scope: 'videos:read b' })).statusCode).toBe(200)
  })

  it('merging keeps every requirement: authenticated, each check (async too), callers, claims', async () => {
    const order: string[] = []
    const t = await setup(
      (app) => {
        app.get('/a', { config: { guard: { extends: 'loggedIn' } } }, () => 'ok')
        app.get(
          '/c',
          {
            config: {
              guard: {
                extends: 'asyncOwner',
                callers: ['search-svc'],
                check: (p) => (order.push('route'), p.subject === 'ok'),
              },
            },
          },
          () => 'ok',
        )
        app.get(
          '/t',
          { config: { guard: { extends: 'gold', claims: { tier: 'gold', sub: 'ok' } } } },
          () => 'ok',
        )
      },
      {
        policies: {
          loggedIn: { authenticated: true },
          asyncOwner: {
            check: async (p) => (order.push('policy'), p.subject !== 'blocked'),
          },
          gold: { claims: { tier: 'gold' } },
        },
      },
    )
    expect((await t.call('/a', null)).statusCode).toBe(401)
    expect((await t.call('/a', { sub: 'u' })).statusCode).toBe(200)
    const svc = { client_id: 'search-svc' }
    expect((await t.call('/c', { ...svc, sub: 'ok' })).statusCode).toBe(200)
    expect(order).toEqual(['policy', 'route'])
    expect((await t.call('/c', { ...svc, sub: 'nope' })).statusCode).toBe(403)
    expect((await t.call('/c', { ...svc, sub: 'blocked' })).statusCode).toBe(403)
    expect((await t.call('/c', { client_id: 'other', sub: 'ok' })).statusCode).toBe(403)
    expect((await t.call('/t', { sub: 'ok', tier: 'gold' })).statusCode).toBe(200)
    expect((await t.call('/t', { sub: 'ok', tier: 'silver' })).statusCode).toBe(403)
  })

  it("a route inherits its policy's response allowlist unless it declares its own", async () => {
    const t = await setup(
      (app) => {
        const row = () => ({ id: '7', secret: 's', title: 't' })
        app.get('/inherit', { config: { guard: { extends: 'rows' } } }, row)
        app.get(
          '/own',
          { config: { guard: { extends: 'rows', response: { allow: ['title'] } } } },
          row,
        )
      },
      { policies: { rows: { authenticated: true, response: { allow: ['id'] } } } },
    )
    expect((await t.call('/inherit', { sub: 'u' })).json()).toEqual({ id: '7' })
    expect((await t.call('/own', { sub: 'u' })).json()).toEqual({ title: 't' })
  })

  it('a route cannot turn an enforced policy into report-only', async () => {
    await setup(
      (app) => {
        app.get('/v', { config: { guard: { extends: 'strict', reportOnly: true } } }, () => 'ok')
      },
      { policies: { strict: { scopes: ['a'], reportOnly: false } } },
    )
    const err = await readyError(current!.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe('guard.reportOnly')
  })

  it('a route that widens the callers of its policy fails startup', async () => {
    await setup(
      (app) => {
        app.get(
          '/v',
          { config: { guard: { extends: 'readVideos', callers: ['billing-svc'] } } },
          () => 'ok',
        )
      },
      { policies },
    )
    const err = await readyError(current!.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe('guard.callers')
    expect(err.message).toMatch(/GET \/v: guard\.callers adds callers 'billing-svc'/)
  })

  it('a public route cannot extend a policy that requires a token', async () => {
    await setup(
      (app) => {
        app.get('/v', { config: { guard: { extends: 'readVideos', public: 'x' } } }, () => 'ok')
      },
      { policies },
    )
    expect((await readyError(current!.app)).field).toBe('guard.public')
  })

  it('an unknown policy name fails startup naming the route and the field', async () => {
    await setup(
      (app) => {
        app.get('/v', { config: { guard: { extends: 'readVidoes' } } }, () => 'ok')
      },
      { policies },
    )
    const err = await readyError(current!.app)
    expect(err.field).toBe('guard.extends')
    expect(err.message).toMatch(
      /names no registered policy 'readVidoes' \(registered: readVideos, readOwnVideos\)/,
    )
  })

  it.each([
    ['a cycle', { a: { extends: 'b' }, b: { extends: 'a' } }, /policies\.a\.extends forms a cycle/],
    [
      'an unknown base',
      { a: { extends: 'nope' } },
      /policies\.a\.extends names no registered policy/,
    ],
    ['an invalid policy', { a: { scopes: [] } }, /policies\.a\.scopes/],
  ])('%s among the policies fails registration', async (_name, bad, message) => {
    const err: unknown = await guardedApp(() => undefined, {
      portcullis: { policies: bad },
    }).then(
      () => new Error('expected failure'),
      (e: unknown) => e,
    )
    expect(isPortcullisError(err, 'PCL_INVALID_OPTIONS')).toBe(true)
    expect((err as Error).message).toMatch(message)
  })
})

describe('prefix defaults', () => {
  it('routes of a prefix inherit its guard, may tighten it, and children inherit too', async () => {
    const t = await setup(async (app) => {
      await app.register(
        async (admin) => {
          admin.get('/users', () => 'users') // no guard of its own: the defaults apply
          admin.get('/audit', { config: { guard: { scopes: ['admin:audit'] } } }, () => 'audit')
          await admin.register(async (deep) => {
            deep.get('/deep', () => 'deep')
          })
        },
        { prefix: '/admin', guard: { scopes: ['admin'], callers: ['ops-console'] } },
      )
    })
    const ops = { sub: 'u', client_id: 'ops-console', scope: 'admin' }
    expect((await t.call('/admin/users', ops)).statusCode).toBe(200)
    expect((await t.call('/admin/deep', ops)).statusCode).toBe(200)
    expect((await t.call('/admin/users', { ...ops, client_id: 'search-svc' })).statusCode).toBe(403)
    expect((await t.call('/admin/audit', ops)).statusCode).toBe(403)
    // The route's scopes add to the prefix's: its own scope alone is not enough.
    const auditOnly = await t.call('/admin/audit', { ...ops, scope: 'admin:audit' })
    expect(auditOnly.statusCode).toBe(403)
    expect(auditOnly.json()).toMatchObject({ code: 'PCL_INSUFFICIENT_SCOPE' })
    expect(auditOnly.headers['www-authenticate']).toContain('scope="admin admin:audit"')
    expect((await t.call('/admin/audit', { ...ops, scope: 'admin admin:audit' })).statusCode).toBe(
      200,
    )
    expect(t.app.portcullis.routes().find((r) => r.url === '/admin/users')?.policy).toBe(
      'scopes: admin; callers: ops-console',
    )
  })

  it.each([
    ['a public route', { public: 'no' }, 'guard.public'],
    ['wider callers', { callers: ['anyone'] }, 'guard.callers'],
    ['a conflicting claim rule', { claims: { tier: 'silver' } }, 'guard.claims.tier'],
  ])('a route that loosens them fails startup: %s', async (_name, guard, field) => {
    await setup(async (app) => {
      await app.register(
        async (admin) => {
          admin.get('/x', { config: { guard } }, () => 'x')
        },
        { prefix: '/admin', guard: { callers: ['ops-console'], claims: { tier: 'gold' } } },
      )
    })
    const err = await readyError(current!.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe(field)
    expect(err.message).toContain('GET /admin/x')
    expect(err.message).toContain('the guard defaults of prefix /admin')
  })

  it("a route takes its prefix's or policy's limits and allowlists unless it declares its own, public routes too", async () => {
    const shaping = {
      rateLimit: { max: 50, timeWindow: '1 minute', key: 'ip' },
      budget: { unit: 'items', max: 10, timeWindow: '1 minute' },
      enumeration: { param: 'id', maxDistinct: 3, timeWindow: '1 hour' },
      response: { allow: ['id'] },
      body: { writable: ['title'] },
    } as const
    const own = {
      rateLimit: { max: 7, timeWindow: '1 minute', key: 'ip' },
      budget: { unit: 'items', max: 5, timeWindow: '1 minute' },
      enumeration: { param: 'id', maxDistinct: 9, timeWindow: '1 hour' },
      response: { allow: ['id', 'title'] },
      body: { writable: ['title', 'tags[]'] },
    } as const
    const t = await setup(
      async (app) => {
        await app.register(
          async (shop) => {
            shop.post('/:id/open', { config: { guard: { public: 'catalog' } } }, () => ({}))
            shop.post('/:id/open-own', { config: { guard: { public: 'x', ...own } } }, () => ({}))
          },
          { prefix: '/shop', guard: shaping },
        )
        app.post('/p/:id', { config: { guard: { extends: 'shaped' } } }, () => ({}))
        app.post('/p/:id/own', { config: { guard: { extends: 'shaped', ...own } } }, () => ({}))
      },
      {
        policies: { shaped: { authenticated: true, ...shaping } },
        rateLimit: { max: 600, timeWindow: '1 minute' },
      },
    )
    await t.app.ready()
    const row = (url: string) => {
      const entry = t.app.portcullis.routes().find((r) => r.url === url)!
      return [entry.rateLimit, entry.budget, entry.enumeration, entry.response, entry.body]
    }
    expect(row('/p/:id')).toEqual([
      '50 per 1 minute by ip',
      '10 items per 1 minute by principal',
      '3 distinct :id per 1 hour by principal',
      '1 field; strip',
      '1 field; reject',
    ])
    expect(row('/p/:id/own')).toEqual([
      '7 per 1 minute by ip',
      '5 items per 1 minute by principal',
      '9 distinct :id per 1 hour by principal',
      '2 fields; strip',
      '2 fields; reject',
    ])
    // A public route's counters can only key by IP.
    expect(row('/shop/:id/open')).toEqual([
      '50 per 1 minute by ip (public)',
      '10 items per 1 minute by ip',
      '3 distinct :id per 1 hour by ip',
      '1 field; strip',
      '1 field; reject',
    ])
    expect(row('/shop/:id/open-own')).toEqual([
      '7 per 1 minute by ip (public)',
      '5 items per 1 minute by ip',
      '9 distinct :id per 1 hour by ip',
      '2 fields; strip',
      '2 fields; reject',
    ])
  })

  it('invalid defaults fail startup', async () => {
    const err = await guardedApp(async (app) => {
      await app.register(async () => undefined, { prefix: '/a', guard: { scopez: ['x'] } as never })
    }).then(
      () => new Error('expected failure'),
      (e: unknown) => e as Error,
    )
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.message).toMatch(/register\(\/a\): guard\.scopez is not a known guard key/)
  })
})

describe('report-only rollout', () => {
  it('evaluates every rule, emits the denial it would make, and serves the request', async () => {
    const t = await setup(
      (app, ran) => {
        app.get('/v', { config: { guard: { scopes: ['videos:read'] } } }, () => {
          ran()
          return 'ok'
        })
      },
      { reportOnly: true },
    )
    const res = await t.call('/v', { sub: 'u' })
    expect(res.statusCode).toBe(200)
    expect(t.runs()).toBe(1)
    expect(t.events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_INSUFFICIENT_SCOPE',
      reportOnly: true,
      status: 403,
    })
    const row = t.app.portcullis.routes()[0]!
    expect(row.reportOnly).toBe(true)
    expect(row.policy).toMatch(/^REPORT-ONLY \(not enforced\): scopes: videos:read$/)
  })

  it('token failures stay enforced', async () => {
    const t = await setup(
      (app) => {
        app.get('/v', { config: { guard: { scopes: ['videos:read'] } } }, () => 'ok')
      },
      { reportOnly: true },
    )
    expect((await t.call('/v', null)).statusCode).toBe(401)
    const expired = await current!.issuer.bad.expired()
    expect((await t.app.inject({ url: '/v', headers: bearer(expired) })).statusCode).toBe(401)
  })

  it("'including-tokens' reports token failures too", async () => {
    const t = await setup(
      (app) => {
        app.get('/v', { config: { guard: { scopes: ['videos:read'] } } }, () => 'ok')
      },
      { reportOnly: 'including-tokens' },
    )
    expect((await t.call('/v', null)).statusCode).toBe(200)
    const expired = await current!.issuer.bad.expired()
    expect((await t.app.inject({ url: '/v', headers: bearer(expired) })).statusCode).toBe(200)
    const reasons = t.events.filter((e) => e.reportOnly).map((e) => e.reason)
    expect(reasons).toEqual(['PCL_TOKEN_MISSING', 'PCL_TOKEN_EXPIRED', 'PCL_TOKEN_MISSING'])
  })

  it("'including-tokens' reports only token failures: an outage is still refused", async () => {
    const issuer = await createTestIssuer()
    let runs = 0
    current = await guardedApp(
      (app) => {
        app.get('/v', { config: { guard: { scopes: ['videos:read'] } } }, () => {
          runs++
          return 'ok'
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
    const token = await issuer.token({ sub: 'u', scope: 'videos:read' })
    const res = await current.app.inject({ url: '/v', headers: bearer(token) })
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ code: 'PCL_REVOCATION_UNAVAILABLE' })
    expect(runs).toBe(0)
    const last = current.events.at(-1)
    expect(last).toMatchObject({ decision: 'deny', reason: 'PCL_REVOCATION_UNAVAILABLE' })
    expect(last?.reportOnly).not.toBe(true)
  })

  it('a route can enforce while the plugin reports, and report while the plugin enforces', async () => {
    const t = await setup(
      (app) => {
        app.get(
          '/enforced',
          { config: { guard: { scopes: ['a'], reportOnly: false } } },
          () => 'ok',
        )
        app.get('/reported', { config: { guard: { scopes: ['a'] } } }, () => 'ok')
      },
      { reportOnly: true },
    )
    expect((await t.call('/enforced', { sub: 'u' })).statusCode).toBe(403)
    expect((await t.call('/reported', { sub: 'u' })).statusCode).toBe(200)
    const t2 = await setup((app) => {
      app.get('/trial', { config: { guard: { scopes: ['a'], reportOnly: true } } }, () => 'ok')
    })
    expect((await t2.call('/trial', { sub: 'u' })).statusCode).toBe(200)
  })
})

describe('knownScopes', () => {
  it('a guard naming a scope outside knownScopes fails startup; known ones pass', async () => {
    await setup(
      (app) => {
        app.get('/ok', { config: { guard: { scopes: ['videos:read'] } } }, () => 'ok')
        app.get('/typo', { config: { guard: { scopes: { anyOf: ['videos:raed'] } } } }, () => 'x')
      },
      { knownScopes: ['videos:read', 'videos:write'] },
    )
    const err = await readyError(current!.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe('guard.scopes')
    expect(err.message).toMatch(
      /GET \/typo: guard\.scopes names 'videos:raed', not among the knownScopes/,
    )
  })
})

describe('guard keys owned by other plugins', () => {
  it.each([
    ['rateLimit', { rateLimit: { max: 1, timeWindow: 1000 } }, '@portcullis/rate-limit'],
    ['response', { response: { allow: ['id'] } }, '@portcullis/allowlist'],
  ])('%s without its plugin fails startup', async (key, extra, plugin) => {
    const { policyPlugin } = await import('@portcullis/policy')
    const { tokensPlugin } = await import('@portcullis/tokens')
    const Fastify = (await import('fastify')).default
    const app = Fastify()
    await app.register(tokensPlugin, {
      issuers: [
        { issuer: 'https://i', audience: 'a', algorithms: ['ES256'], jwksUri: 'https://i/j' },
      ],
    })
    await app.register(policyPlugin)
    app.get('/x', { config: { guard: { public: 'probe', ...extra } as never } }, () => 'x')
    const err = await readyError(app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe(`guard.${key}`)
    expect(err.message).toContain(plugin)
  })
})

describe('audit output', () => {
  it('every decision carries its reason code, route, subject and client', async () => {
    const t = await setup((app) => {
      app.get(
        '/v/:id',
        { config: { guard: { scopes: ['videos:read'], callers: ['search-svc'] } } },
        () => 'ok',
      )
    })
    await t.call('/v/1', reader)
    await t.call('/v/2', { ...reader, client_id: 'x' })
    const [allow, deny] = t.events as [AuditEvent, AuditEvent]
    expect(allow).toMatchObject({
      decision: 'allow',
      reason: 'PCL_ALLOWED',
      route: '/v/:id',
      subject: 'user-1',
      clientId: 'search-svc',
    })
    expect(deny).toMatchObject({
      decision: 'deny',
      reason: 'PCL_CALLER_NOT_ALLOWED',
      status: 403,
      clientId: 'x',
    })
  })
})

describe('startup warnings', () => {
  it('a literal claim value that looks like a route parameter is logged once, with the fix', async () => {
    const t = await setup((app) => {
      app.get('/v1/users/:userId', { config: { guard: { claims: { sub: ':userId' } } } }, () => 'x')
      app.get('/v1/orgs/:org', { config: { guard: { claims: { org: '{orgId}' } } } }, () => 'x')
      app.get('/v1/gold', { config: { guard: { claims: { tier: 'gold' } } } }, () => 'x')
    })
    await t.app.ready()
    const warnings = current!.logs
      .map((line) => JSON.parse(line) as { level: number; msg: string; field?: string })
      .filter((line) => line.level === 40 && line.field?.startsWith('guard.claims') === true)
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toMatchObject({ field: 'guard.claims.sub' })
    expect(warnings[0]!.msg).toMatch(
      /GET \/v1\/users\/:userId: guard\.claims\.sub is the literal ':userId', which looks like a route parameter.*write \{ param: 'userId' \}$/,
    )
    expect(warnings[1]!.msg).toMatch(
      /guard\.claims\.org is the literal '\{orgId\}'.*\{ param: 'orgId' \} \(this route has no parameter :orgId\)/,
    )
    // It is a literal, as written: the parameter's value does not match it.
    expect((await t.call('/v1/users/u1', { sub: 'u1' })).statusCode).toBe(403)
  })
})
