import { isPortcullisError, PortcullisConfigError } from '@portcullis/fastify'
import { policyPlugin } from '@portcullis/policy'
import { bearer, createTestIssuer } from '@portcullis/testing'
import { tokensPlugin } from '@portcullis/tokens'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { invalidGuardCases } from '../cases/access.js'
import { expectInventory } from '../cases/checks.js'
import { guardedApp, readyError, trustedTokens, type GuardedApp } from '../helpers.js'

const pub = { config: { guard: { public: 'test route' } } }
let current: GuardedApp | undefined
afterEach(async () => {
  await current?.app.close().catch(() => undefined)
  current = undefined
})

async function unguardedRoutesOf(
  routes: Parameters<typeof guardedApp>[0],
  before?: NonNullable<Parameters<typeof guardedApp>[1]>['before'],
) {
  current = await guardedApp(routes, before === undefined ? {} : { before })
  const err = await readyError(current.app)
  expect(isPortcullisError(err, 'PCL_UNGUARDED_ROUTE')).toBe(true)
  expect(err).toBeInstanceOf(PortcullisConfigError)
  return { routes: err.routes as string[], message: err.message }
}

describe('deny by default: every kind of route without a guard fails app.ready()', () => {
  it('a plain route, listing the HEAD route Fastify adds for GET', async () => {
    const { routes, message } = await unguardedRoutesOf((app) => {
      app.get('/healthz', pub, () => 'ok')
      app.get('/v1/videos', () => [])
    })
    expect(routes).toEqual(['GET /v1/videos', 'HEAD /v1/videos'])
    expect(message).toContain('GET /v1/videos')
    expect(message).not.toContain('/healthz')
  })

  it('routes in encapsulated child plugins, with and without a prefix', async () => {
    const { routes } = await unguardedRoutesOf(async (app) => {
      await app.register(async (child) => {
        child.post('/no-prefix', () => 'x')
      })
      await app.register(
        async (child) => {
          child.delete('/thing/:id', () => 'x')
          await child.register(
            async (grandchild) => {
              grandchild.put('/deep', () => 'x')
            },
            { prefix: '/nested' },
          )
        },
        { prefix: '/admin' },
      )
    })
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /no-prefix',
        'DELETE /admin/thing/:id',
        'PUT /admin/nested/deep',
      ]),
    )
  })

  it('routes declared before the plugin: at the root and in child plugins', async () => {
    const { routes, message } = await unguardedRoutesOf(
      (app) => {
        app.get('/late', pub, () => 'ok')
      },
      async (app) => {
        app.get('/early', () => 'x')
        // Even a guard is not enough when Portcullis never saw the route.
        app.patch('/early-with-guard', pub, () => 'x')
        await app.register(
          async (child) => {
            child.get('/x', () => 'x')
          },
          { prefix: '/child-early' },
        )
      },
    )
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /early',
        'HEAD /early',
        'PATCH /early-with-guard',
        'GET /child-early/x',
      ]),
    )
    expect(routes.some((r) => r.includes('/late'))).toBe(false)
    expect(message).toMatch(/declared before Portcullis was registered/)
    expect(message).toMatch(/await app\.register/)
  })

  it('routes with version and host constraints', async () => {
    const { routes } = await unguardedRoutesOf((app) => {
      app.get('/v', { constraints: { version: '1.2.0' } }, () => 'x')
      app.get('/v', { constraints: { version: '2.0.0' }, ...pub }, () => 'x')
      app.get('/h', { constraints: { host: 'internal.example' } }, () => 'x')
    })
    expect(routes).toEqual(
      expect.arrayContaining(['GET /v {"version":"1.2.0"}', 'GET /h {"host":"internal.example"}']),
    )
    expect(routes.some((r) => r.includes('2.0.0'))).toBe(false)
  })

  it('app.route() with several methods lists each method', async () => {
    const { routes } = await unguardedRoutesOf((app) => {
      app.route({ method: ['POST', 'PUT', 'PATCH'], url: '/multi', handler: () => 'x' })
    })
    expect(routes).toEqual(['POST /multi', 'PUT /multi', 'PATCH /multi'])
  })

  it('wildcard and all-methods routes', async () => {
    const { routes } = await unguardedRoutesOf((app) => {
      app.get('/files/*', () => 'x')
      app.all('/any', () => 'x')
    })
    expect(routes).toEqual(expect.arrayContaining(['GET /files/*', 'HEAD /files/*', 'DELETE /any']))
  })

  it('a HEAD route declared by hand', async () => {
    const { routes } = await unguardedRoutesOf((app) => {
      app.get('/x', { ...pub, exposeHeadRoute: false }, () => 'x')
      app.head('/x', () => undefined)
    })
    expect(routes).toEqual(['HEAD /x'])
  })
})

describe('guarded apps start, and the inventory shows every route', () => {
  it('every kind of route, all guarded, passes the startup check', async () => {
    const g = { config: { guard: { authenticated: true as const } } }
    current = await guardedApp(async (app) => {
      app.get('/', pub, () => 'x')
      app.get('/v', { ...g, constraints: { version: '1.0.0' } }, () => 'x')
      app.get('/v', { ...g, constraints: { version: '2.0.0' } }, () => 'x')
      app.post('/v', g, () => 'x')
      app.get('/h', { ...g, constraints: { host: 'a.example' } }, () => 'x')
      app.route({ method: ['POST', 'PUT'], url: '/multi', ...g, handler: () => 'x' })
      app.all('/any', g, () => 'x')
      app.get('/files/*', g, () => 'x')
      app.get('/re/:id(^\\d+)', g, () => 'x')
      app.get('/a/:x-:y/b', g, () => 'x')
      app.get('/odd (name)/x', g, () => 'x')
      app.head('/manual', g, () => undefined)
      await app.register(
        async (child) => {
          child.get('/', g, () => 'x')
          child.get('/:id', g, () => 'x')
        },
        { prefix: '/p' },
      )
    })
    await current.app.ready()
    const urls = new Set(current.app.portcullis.routes().map((r) => r.url))
    expect(urls).toEqual(
      new Set([
        '/',
        '/v',
        '/h',
        '/multi',
        '/any',
        '/files/*',
        '/re/:id(^\\d+)',
        '/a/:x-:y/b',
        '/odd (name)/x',
        '/manual',
        '/p',
        '/p/',
        '/p/:id',
      ]),
    )
    expect(current.app.portcullis.routes().every((r) => r.guarded)).toBe(true)
  })

  it('lists method, URL and public reason or policy summary, HEAD included', async () => {
    current = await guardedApp(async (app) => {
      app.get('/healthz', { config: { guard: { public: 'liveness probe' } } }, () => 'ok')
      await app.register(
        async (child) => {
          child.get('/videos/:id', { config: { guard: { authenticated: true } } }, () => ({}))
        },
        { prefix: '/v1' },
      )
    })
    await current.app.ready()
    expectInventory(current.app.portcullis.routes(), 'authenticated')
  })
})

describe('invalid guards fail app.ready() naming the route and the field', () => {
  // The invalid guards shared with the Express adapter's suite (test/cases/access.ts).
  it.each(invalidGuardCases)('$name', async ({ guard, field }) => {
    current = await guardedApp((app) => {
      app.get('/v1/things/:id', { config: { guard: guard as never } }, () => 'x')
    })
    const err = await readyError(current.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.message).toContain('GET /v1/things/:id')
    expect(err.field).toBe(field)
    expect(err.route).toBe('GET /v1/things/:id')
  })

  it('lists every invalid guard at once', async () => {
    current = await guardedApp((app) => {
      app.get('/a', { config: { guard: {} } }, () => 'x')
      app.post('/b', { config: { guard: { public: '' } } }, () => 'x')
    })
    const err = await readyError(current.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.message).toContain('GET /a')
    expect(err.message).toContain('POST /b')
  })

  it('reports every finding at once: invalid guards of every kind, then unguarded routes', async () => {
    current = await guardedApp(
      (app) => {
        const limited = { max: 5, timeWindow: '1 minute' }
        const response = { allow: ['id'] }
        app.get(
          '/limited',
          { config: { guard: { authenticated: true, rateLimit: limited, response } } },
          () => 'x',
        )
        app.get('/no-response', { config: { guard: { authenticated: true } } }, () => 'x')
        app.get('/typo', { config: { guard: { scopez: ['a'], response } as never } }, () => 'x')
        app.delete('/forgotten', () => 'x')
      },
      { portcullis: { response: { requireResponse: true } } },
    )
    const err = await readyError(current.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    const errors = err.errors as { code: string; route?: string; field?: string }[]
    expect(errors.map((e) => [e.code, e.route ?? null, e.field ?? null])).toEqual([
      ['PCL_INVALID_GUARD', 'GET /limited', 'guard.rateLimit'],
      ['PCL_INVALID_GUARD', 'GET /no-response', 'guard.response'],
      ['PCL_INVALID_GUARD', 'GET /typo', 'guard.scopez'],
      ['PCL_UNGUARDED_ROUTE', null, null],
    ])
    // Each once: the HEAD routes Fastify adds share their GET route's guard.
    expect(err.message).not.toMatch(/HEAD \/(limited|no-response|typo)/)
    expect(err.message).toMatch(
      /3 route guards are invalid:[^]*1 route has no guard[^]*- DELETE \/forgotten/,
    )
    expect(err.routes).toEqual([
      'GET /limited',
      'GET /no-response',
      'GET /typo',
      'DELETE /forgotten',
    ])
  })

  it('guard.rateLimit without the rateLimit option says to add that option to @portcullis/fastify', async () => {
    current = await guardedApp((app) => {
      app.get(
        '/v',
        { config: { guard: { authenticated: true, rateLimit: { max: 5, timeWindow: 1000 } } } },
        () => 'x',
      )
    })
    const err = await readyError(current.app)
    expect(err.field).toBe('guard.rateLimit')
    expect(err.message).toMatch(
      /GET \/v: guard\.rateLimit needs @portcullis\/rate-limit, which is not registered: add the rateLimit option to the options of @portcullis\/fastify \(e\.g\. rateLimit: \{ max: 600, timeWindow: '1 minute' \}/,
    )
    expect(err.message).not.toMatch(/registers it/)
  })

  it('with the plugins registered one by one, it says to register @portcullis/rate-limit', async () => {
    const issuer = await createTestIssuer()
    const app = Fastify()
    await app.register(tokensPlugin, trustedTokens(issuer))
    await app.register(policyPlugin)
    app.get(
      '/v',
      { config: { guard: { authenticated: true, rateLimit: { max: 5, timeWindow: 1000 } } } },
      () => 'x',
    )
    const err = await readyError(app)
    expect(err.message).toMatch(
      /guard\.rateLimit needs @portcullis\/rate-limit, which is not registered: register @portcullis\/rate-limit \(rateLimitPlugin\) after @portcullis\/policy/,
    )
    await app.close()
  })
})

describe('invalid plugin options fail app.ready()', () => {
  it.each([
    ['an unknown option', { tokenz: {} }, /tokenz: is not a known option/],
    ['a wrong type', { unguardedRoutes: 'maybe' }, /unguardedRoutes/],
    ['a non-function audit sink', { audit: 'stdout' }, /audit/],
    ['an invalid rate limit', { rateLimit: { max: 0, timeWindow: 1000 } }, /rateLimit\.max/],
  ])('%s', async (_name, extra, message) => {
    // `await app.register()` rejects (and so would `app.ready()`).
    const err: unknown = await guardedApp(() => undefined, { portcullis: extra as never }).then(
      () => new Error('expected registration to fail'),
      (e: unknown) => e,
    )
    expect(isPortcullisError(err, 'PCL_INVALID_OPTIONS')).toBe(true)
    expect((err as Error).message).toMatch(message)
  })
})

describe('run-time second line of defence', () => {
  it("refuses requests to unguarded routes with 403 in unguardedRoutes: 'deny' mode", async () => {
    let ran = 0
    current = await guardedApp(
      (app) => {
        app.get('/legacy', () => {
          ran++
          return { secret: 'internal' }
        })
      },
      { portcullis: { unguardedRoutes: 'deny' } },
    )
    await current.app.ready()
    const token = await current.issuer.token({ sub: 'svc-a' })
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await current.app.inject({ method, url: '/legacy', headers: bearer(token) })
      expect(res.statusCode).toBe(403)
      expect(res.headers['content-type']).toBe('application/problem+json')
      if (method === 'GET')
        expect(res.json()).toMatchObject({ code: 'PCL_ROUTE_NOT_GUARDED', status: 403 })
    }
    expect(ran).toBe(0)
    expect(current.events.filter((e) => e.reason === 'PCL_ROUTE_NOT_GUARDED')).toHaveLength(2)
    expect(current.app.portcullis.routes()[0]).toMatchObject({ url: '/legacy', guarded: false })
    expect(current.logs.join('')).toMatch(/routes without a guard are refused/)
  })

  it('still fails startup for routes declared before the plugin, even in deny mode', async () => {
    current = await guardedApp(() => undefined, {
      before: (app) => {
        app.get('/early', () => 'x')
      },
      portcullis: { unguardedRoutes: 'deny' },
    })
    const err = await readyError(current.app)
    expect(isPortcullisError(err, 'PCL_UNGUARDED_ROUTE')).toBe(true)
  })
})

describe('unknown URLs', () => {
  it('answer 401 to anonymous requests so the route map cannot be enumerated', async () => {
    current = await guardedApp((app) => {
      app.get('/healthz', pub, () => 'ok')
    })
    for (const [method, url] of [
      ['GET', '/admin'],
      ['POST', '/healthz'],
      ['DELETE', '/v1/users/1'],
    ] as const) {
      const res = await current.app.inject({ method, url })
      expect(res.statusCode, `${method} ${url}`).toBe(401)
      expect(res.json()).toMatchObject({ code: 'PCL_TOKEN_MISSING' })
      expect(res.headers['www-authenticate']).toBe('Bearer realm="test"')
    }
    const deny = current.events.find((e) => e.decision === 'deny')
    expect(deny).toMatchObject({ route: null, reason: 'PCL_TOKEN_MISSING', status: 401 })
  })

  it('answer 404 to requests with a valid token', async () => {
    current = await guardedApp((app) => {
      app.get('/healthz', pub, () => 'ok')
    })
    const token = await current.issuer.token()
    const res = await current.app.inject({ url: '/admin', headers: bearer(token) })
    expect(res.statusCode).toBe(404)
  })

  it('answer 401 to requests with an invalid token', async () => {
    current = await guardedApp((app) => {
      app.get('/healthz', pub, () => 'ok')
    })
    const token = await current.issuer.bad.wrongKey()
    const res = await current.app.inject({ url: '/admin', headers: bearer(token) })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'PCL_TOKEN_INVALID' })
  })

  it("answer 404 with unknownRoutes: 'not-found'", async () => {
    current = await guardedApp(
      (app) => {
        app.get('/healthz', pub, () => 'ok')
      },
      { portcullis: { unknownRoutes: 'not-found' } },
    )
    expect((await current.app.inject('/admin')).statusCode).toBe(404)
  })
})

describe('guard responses are problem+json whatever the app does with errors', () => {
  it("ignores the app's error handler and never leaks a stack", async () => {
    let handlerRan = false
    current = await guardedApp((app) => {
      app.setErrorHandler((err: Error, _req, reply) => {
        void reply.code(500).send({ leaked: err.stack, message: err.message })
      })
      app.get('/v1/private', { config: { guard: { authenticated: true } } }, () => {
        handlerRan = true
        return 'x'
      })
    })
    const missing = await current.app.inject('/v1/private')
    expect(missing.statusCode).toBe(401)
    expect(missing.headers['content-type']).toBe('application/problem+json')
    expect(missing.json()).toEqual({
      type: expect.stringContaining('#pcl_token_missing'),
      title: 'Authentication required',
      status: 401,
      code: 'PCL_TOKEN_MISSING',
    })
    const forged = await current.issuer.bad.algNone()
    const invalid = await current.app.inject({ url: '/v1/private', headers: bearer(forged) })
    expect(invalid.statusCode).toBe(401)
    expect(invalid.body).not.toMatch(/leaked|stack|at .*\.ts/)
    expect(invalid.headers['www-authenticate']).toMatch(
      /^Bearer realm="test", error="invalid_token"/,
    )
    expect(handlerRan).toBe(false)
  })
})

describe('tokens on public and guarded routes', () => {
  it('a public route serves anonymous requests; a valid token still yields a principal', async () => {
    current = await guardedApp((app) => {
      app.get('/healthz', pub, (req) => ({ subject: req.principal?.subject ?? null }))
    })
    expect((await current.app.inject('/healthz')).json()).toEqual({ subject: null })
    const token = await current.issuer.token({ sub: 'user-42' })
    const res = await current.app.inject({ url: '/healthz', headers: bearer(token) })
    expect(res.json()).toEqual({ subject: 'user-42' })
  })

  it('an invalid token on a public route is refused, not ignored', async () => {
    current = await guardedApp((app) => {
      app.get('/healthz', pub, () => 'ok')
    })
    const token = await current.issuer.bad.expired()
    const res = await current.app.inject({ url: '/healthz', headers: bearer(token) })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'PCL_TOKEN_EXPIRED' })
  })

  it('an authenticated route serves a valid token and refuses a missing one', async () => {
    current = await guardedApp((app) => {
      app.get('/v1/me', { config: { guard: { authenticated: true } } }, (req) => ({
        sub: req.principal?.subject,
        frozen: Object.isFrozen(req.principal),
      }))
    })
    const token = await current.issuer.token({ sub: 'user-7' })
    const ok = await current.app.inject({ url: '/v1/me', headers: bearer(token) })
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toEqual({ sub: 'user-7', frozen: true })
    const head = await current.app.inject({ method: 'HEAD', url: '/v1/me' })
    expect(head.statusCode).toBe(401)
  })
})

describe('audit events', () => {
  it('are emitted for allow and deny, with route, subject and client, and never the token', async () => {
    current = await guardedApp((app) => {
      app.get('/v1/videos/:id', { config: { guard: { authenticated: true } } }, () => ({ id: 1 }))
    })
    const token = await current.issuer.token({ sub: 'user-1', client_id: 'search-svc' })
    await current.app.inject({ url: '/v1/videos/1?x=secret-query', headers: bearer(token) })
    await current.app.inject({ url: '/v1/videos/2' })
    expect(current.events).toHaveLength(2)
    expect(current.events[0]).toMatchObject({
      type: 'portcullis.decision',
      decision: 'allow',
      reason: 'PCL_ALLOWED',
      method: 'GET',
      route: '/v1/videos/:id',
      subject: 'user-1',
      clientId: 'search-svc',
      issuer: current.issuer.issuer,
      status: null,
    })
    expect(current.events[0]!.durationMs).toBeGreaterThanOrEqual(0)
    expect(current.events[1]).toMatchObject({
      decision: 'deny',
      reason: 'PCL_TOKEN_MISSING',
      status: 401,
    })
    const everything = JSON.stringify(current.events) + current.logs.join('')
    expect(everything).not.toContain(token)
    expect(everything).not.toContain(token.split('.')[2]!)
    // Audit events carry the route template, never the raw URL and its query.
    expect(JSON.stringify(current.events)).not.toContain('secret-query')
  })

  it("go to Fastify's logger by default", async () => {
    current = await guardedApp(
      (app) => {
        app.get('/v1/x', { config: { guard: { authenticated: true } } }, () => 'x')
      },
      { audit: false },
    )
    const token = await current.issuer.token({ sub: 'user-9' })
    await current.app.inject({ url: '/v1/x', headers: bearer(token) })
    await current.app.inject({ url: '/v1/x', headers: bearer(`${token}tampered`) })
    const lines = current.logs.map((l) => JSON.parse(l) as Record<string, any>)
    const allow = lines.find((l) => l.audit?.decision === 'allow')
    const deny = lines.find((l) => l.audit?.decision === 'deny')
    expect(allow).toMatchObject({ level: 30, audit: { subject: 'user-9', route: '/v1/x' } })
    expect(deny).toMatchObject({ level: 40, audit: { reason: 'PCL_TOKEN_INVALID' } })
    expect(current.logs.join('')).not.toContain(token)
  })

  it('a throwing sink is logged and never changes the response', async () => {
    current = await guardedApp(
      (app) => {
        app.get('/healthz', pub, () => 'ok')
      },
      {
        portcullis: {
          audit: () => {
            throw new Error('sink down')
          },
        },
      },
    )
    const res = await current.app.inject('/healthz')
    expect(res.statusCode).toBe(200)
    expect(current.logs.join('')).toMatch(/audit sink threw/)
  })
})
