import { isPortcullisError, type AuditEvent } from '@portcullis/fastify'
import { bearer } from '@portcullis/testing'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { guardedApp, readyError, type GuardedApp } from '../helpers.js'

let current: GuardedApp | undefined
afterEach(async () => {
  await current?.app.close().catch(() => undefined)
  current = undefined
})

type Claims = Record<string, unknown>

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
    async call(url: string, claims: Claims | null, method: 'GET' | 'POST' = 'GET') {
      const headers = claims === null ? {} : bearer(await issuer.token(claims))
      return app.inject({ method, url, headers })
    },
  }
}

const reader = { sub: 'user-1', client_id: 'search-svc', scope: 'videos:read' }

describe('scopes', () => {
  it('all listed scopes are required; a missing one is 403 insufficient_scope naming them', async () => {
    const t = await setup((app, ran) => {
      app.get('/v', { config: { guard: { scopes: ['videos:read', 'videos:list'] } } }, () => {
        ran()
        return 'ok'
      })
    })
    const ok = await t.call('/v', { sub: 'u', scope: 'videos:list videos:read extra' })
    expect(ok.statusCode).toBe(200)
    const res = await t.call('/v', { sub: 'u', scope: 'videos:read' })
    expect(res.statusCode).toBe(403)
    expect(res.json()).toMatchObject({ code: 'PCL_INSUFFICIENT_SCOPE' })
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="test", error="insufficient_scope", error_description="Insufficient scope", scope="videos:read videos:list"',
    )
    expect(t.runs()).toBe(1)
  })

  it('a single scope string, and scp arrays, work', async () => {
    const t = await setup((app) => {
      app.get('/v', { config: { guard: { scopes: 'videos:read' } } }, () => 'ok')
    })
    expect((await t.call('/v', { sub: 'u', scp: ['videos:read'] })).statusCode).toBe(200)
    expect((await t.call('/v', { sub: 'u' })).statusCode).toBe(403)
  })

  it('{ allOf, anyOf }: all of allOf and at least one of anyOf', async () => {
    const t = await setup((app) => {
      app.get(
        '/v',
        { config: { guard: { scopes: { allOf: ['a'], anyOf: ['b', 'c'] } } } },
        () => 'ok',
      )
    })
    expect((await t.call('/v', { sub: 'u', scope: 'a c' })).statusCode).toBe(200)
    expect((await t.call('/v', { sub: 'u', scope: 'a' })).statusCode).toBe(403)
    expect((await t.call('/v', { sub: 'u', scope: 'b c' })).statusCode).toBe(403)
  })

  it('are compared exactly: no case folding, no lookalikes', async () => {
    const t = await setup((app) => {
      app.get('/v', { config: { guard: { scopes: ['videos:read'] } } }, () => 'ok')
    })
    expect((await t.call('/v', { sub: 'u', scope: 'VIDEOS:READ' })).statusCode).toBe(403)
    // A Cyrillic 'е' (U+0435) in place of the Latin 'e'.
    expect((await t.call('/v', { sub: 'u', scope: 'vid\u0435os:read' })).statusCode).toBe(403)
  })
})

describe('callers', () => {
  it('only listed client ids may call; others, and tokens without a client, get 403', async () => {
    const t = await setup((app, ran) => {
      app.get('/internal', { config: { guard: { callers: ['search-svc', 'player-svc'] } } }, () => {
        ran()
        return 'ok'
      })
    })
    expect((await t.call('/internal', { sub: 'u', client_id: 'player-svc' })).statusCode).toBe(200)
    expect((await t.call('/internal', { sub: 'u', azp: 'search-svc' })).statusCode).toBe(200)
    for (const claims of [{ sub: 'u', client_id: 'billing-svc' }, { sub: 'u' }]) {
      const res = await t.call('/internal', claims)
      expect(res.statusCode).toBe(403)
      expect(res.json()).toEqual({
        type: expect.stringContaining('#pcl_caller_not_allowed'),
        title: 'Forbidden',
        status: 403,
        code: 'PCL_CALLER_NOT_ALLOWED',
      })
      // The body never says which rule failed, and there is no scope challenge.
      expect(res.body).not.toContain('search-svc')
      expect(res.headers['www-authenticate']).toBeUndefined()
    }
    expect(t.runs()).toBe(2)
  })
})

describe('claims', () => {
  it('BOLA: a claim must equal the route parameter', async () => {
    const t = await setup((app, ran) => {
      app.get(
        '/v1/users/:userId/history',
        { config: { guard: { claims: { sub: { param: 'userId' } } } } },
        () => {
          ran()
          return []
        },
      )
    })
    expect((await t.call('/v1/users/user-7/history', { sub: 'user-7' })).statusCode).toBe(200)
    const other = await t.call('/v1/users/user-8/history', { sub: 'user-7' })
    expect(other.statusCode).toBe(403)
    expect(other.json()).toMatchObject({ code: 'PCL_CLAIM_MISMATCH' })
    expect(other.body).not.toContain('user-7')
    expect(t.runs()).toBe(1)
  })

  it('numeric claims match their decimal form; other types never match a parameter', async () => {
    const t = await setup((app) => {
      app.get(
        '/t/:tenantId',
        { config: { guard: { claims: { tenant: { param: 'tenantId' } } } } },
        () => 'ok',
      )
    })
    expect((await t.call('/t/42', { sub: 'u', tenant: 42 })).statusCode).toBe(200)
    expect((await t.call('/t/42', { sub: 'u', tenant: '42' })).statusCode).toBe(200)
    expect((await t.call('/t/42', { sub: 'u', tenant: [42] })).statusCode).toBe(403)
    expect((await t.call('/t/42', { sub: 'u', tenant: { id: 42 } })).statusCode).toBe(403)
    expect((await t.call('/t/42', { sub: 'u' })).statusCode).toBe(403)
  })

  it('query values, equality, oneOf and contains', async () => {
    const t = await setup((app) => {
      app.get(
        '/q',
        {
          config: {
            guard: {
              claims: {
                org: { query: 'org' },
                tier: 'gold',
                region: { oneOf: ['eu', 'us'] },
                groups: { contains: 'moderators' },
              },
            },
          },
        },
        () => 'ok',
      )
    })
    const good = {
      sub: 'u',
      org: 'acme',
      tier: 'gold',
      region: 'eu',
      groups: ['staff', 'moderators'],
    }
    expect((await t.call('/q?org=acme', good)).statusCode).toBe(200)
    expect((await t.call('/q?org=globex', good)).statusCode).toBe(403)
    expect((await t.call('/q?org=acme&org=acme', good)).statusCode).toBe(403)
    expect((await t.call('/q', good)).statusCode).toBe(403)
    expect((await t.call('/q?org=acme', { ...good, tier: 'silver' })).statusCode).toBe(403)
    expect((await t.call('/q?org=acme', { ...good, region: 'apac' })).statusCode).toBe(403)
    expect((await t.call('/q?org=acme', { ...good, groups: ['staff'] })).statusCode).toBe(403)
    expect((await t.call('/q?org=acme', { ...good, groups: 'moderators' })).statusCode).toBe(403)
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

  it('async checks, and truthy non-true answers deny (fail closed)', async () => {
    const t = await setup((app) => {
      app.get('/a', { config: { guard: { check: async (p) => p.subject === 'ok' } } }, () => 'ok')
      app.get('/b', { config: { guard: { check: (() => 1) as never } } }, () => 'ok')
    })
    expect((await t.call('/a', { sub: 'ok' })).statusCode).toBe(200)
    expect((await t.call('/a', { sub: 'nope' })).statusCode).toBe(403)
    expect((await t.call('/b', { sub: 'ok' })).statusCode).toBe(403)
  })

  it('a check that throws or rejects is a 403 with an audit event, never a 500 that leaks', async () => {
    const t = await setup((app, ran) => {
      app.get(
        '/t',
        {
          config: {
            guard: {
              check: () => {
                throw new Error('db password=hunter2')
              },
            },
          },
        },
        () => {
          ran()
          return 'ok'
        },
      )
      app.get(
        '/r',
        { config: { guard: { check: () => Promise.reject(new Error('hunter2')) } } },
        () => {
          ran()
          return 'ok'
        },
      )
    })
    for (const url of ['/t', '/r']) {
      const res = await t.call(url, { sub: 'u' })
      expect(res.statusCode).toBe(403)
      expect(res.json()).toMatchObject({ code: 'PCL_CHECK_DENIED' })
      expect(res.body).not.toContain('hunter2')
    }
    expect(t.runs()).toBe(0)
    expect(t.events.filter((e) => e.reason === 'PCL_CHECK_DENIED')).toHaveLength(2)
  })
})

describe('combined rules and order', () => {
  it('scopes, callers, claims and check together: each can deny, all must pass', async () => {
    const t = await setup((app) => {
      app.get(
        '/t/:tenantId/videos',
        {
          config: {
            guard: {
              scopes: ['videos:read'],
              callers: ['search-svc'],
              claims: { tenant: { param: 'tenantId' } },
              check: (p) => !p.scopes.has('suspended'),
            },
          },
        },
        () => 'ok',
      )
    })
    const good = { ...reader, tenant: 'acme' }
    expect((await t.call('/t/acme/videos', good)).statusCode).toBe(200)
    const cases: [Claims, string][] = [
      [{ ...good, scope: '' }, 'PCL_INSUFFICIENT_SCOPE'],
      [{ ...good, client_id: 'other' }, 'PCL_CALLER_NOT_ALLOWED'],
      [{ ...good, tenant: 'globex' }, 'PCL_CLAIM_MISMATCH'],
      [{ ...good, scope: 'videos:read suspended' }, 'PCL_CHECK_DENIED'],
    ]
    for (const [claims, code] of cases) {
      const res = await t.call('/t/acme/videos', claims)
      expect(res.statusCode, code).toBe(403)
      expect(res.json().code).toBe(code)
    }
  })

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

  it('a missing token is 401 before any policy rule', async () => {
    const t = await setup((app) => {
      app.get('/v', { config: { guard: { scopes: ['videos:read'] } } }, () => 'ok')
    })
    const res = await t.call('/v', null)
    expect(res.statusCode).toBe(401)
    expect(res.json().code).toBe('PCL_TOKEN_MISSING')
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

describe('invalid policies fail startup naming the route and the field', () => {
  it.each([
    ['an unknown scope form', { scopes: { oneOf: ['a'] } }, 'guard.scopes.oneOf'],
    ['an empty anyOf', { scopes: { anyOf: [] } }, 'guard.scopes.anyOf'],
    ['an empty scope list', { scopes: [] }, 'guard.scopes'],
    ['a scope with a space', { scopes: ['videos read'] }, 'guard.scopes[0]'],
    ['a lookalike scope', { scopes: ['vid\u0435os:read'] }, 'guard.scopes[0]'],
    ['an empty caller list', { callers: [] }, 'guard.callers'],
    ['an empty claims object', { claims: {} }, 'guard.claims'],
    [
      'a claim on a parameter the route lacks',
      { claims: { sub: { param: 'userId' } } },
      'guard.claims.sub.param',
    ],
    ['an unknown claim matcher', { claims: { sub: { regex: '.*' } } }, 'guard.claims.sub'],
    ['a check that is not a function', { check: 'isOwner' }, 'guard.check'],
  ])('%s', async (_name, guard, field) => {
    await setup((app) => {
      app.get('/v1/videos/:id', { config: { guard: guard as never } }, () => 'x')
    })
    const err = await readyError(current!.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe(field)
    expect(err.message).toContain('GET /v1/videos/:id')
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
