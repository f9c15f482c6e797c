import { tmpdir } from 'node:os'
import { isPortcullisError, PortcullisConfigError, type Guard } from '@portcullis/express'
import { bearer, createTestIssuer } from '@portcullis/testing'
import express, { type Express } from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import { expectInventory } from '../cases/checks.js'
import { trustedTokens } from '../helpers.js'
import { guardedExpress, thrown, type GuardedExpress } from './helpers.js'

let current: GuardedExpress | undefined
afterEach(async () => {
  await current?.close()
  current = undefined
})

const ok = (_req: express.Request, res: express.Response): void => void res.send('ok')

/** The routes `seal` refuses, from the `PCL_UNGUARDED_ROUTE` error. */
async function unguardedRoutesOf(routes: (app: Express, guard: GuardedExpress['guard']) => void) {
  current = await guardedExpress(() => undefined, { seal: false })
  const app = express()
  routes(app, current.guard)
  const err = thrown(() => current!.guard.seal(app))
  expect(isPortcullisError(err, 'PCL_UNGUARDED_ROUTE')).toBe(true)
  expect(err).toBeInstanceOf(PortcullisConfigError)
  return { routes: err.routes as string[], message: err.message, app }
}

describe('deny by default: seal refuses every kind of route without a guard first', () => {
  it('a middleware that could answer, mounted with use and no guard in front of it', async () => {
    const exportRows = (_req: express.Request, res: express.Response) => void res.json([1])
    const { routes, message } = await unguardedRoutesOf((app) => {
      app.use('/internal/export', exportRows)
      app.use((_req, _res, next) => next())
      const router = express.Router()
      router.use('/dump', (_req, res) => void res.send('rows'))
      app.use('/v1', router)
    })
    expect(routes).toEqual(['USE /internal/export', 'USE /', 'USE /v1/dump'])
    expect(message).toContain('middleware exportRows could answer before any guard')
    expect(message).toContain('guard.passThrough(fn')
  })

  it('accepts middleware behind a guard, body parsers, error handlers and declared pass-throughs', async () => {
    current = await guardedExpress(() => undefined, { seal: false })
    const { guard } = current
    const app = express()
    app.use(express.json(), express.urlencoded({ extended: false }), express.text(), express.raw())
    app.use(guard.passThrough((_req, _res, next) => next(), 'sets a request id'))
    // A guard mounted with use covers what is mounted at or below its path, after it.
    app.use('/admin', guard({ scopes: ['admin'], response: { allow: ['ok'] } }))
    app.use('/admin', (_req, res) => void res.json({ ok: true }))
    app.use('/admin/export', (_req, res) => void res.json({ ok: true }))
    const inner = express.Router()
    inner.use((_req, res) => void res.json({ ok: true }))
    app.use('/admin/inner', inner)
    // The same router behind a guard in its own mount.
    app.use('/ops', guard({ scopes: ['ops'], response: { allow: ['ok'] } }), inner)
    app.use(
      (err: unknown, _req: express.Request, _res: express.Response, next: express.NextFunction) =>
        next(err),
    )
    expect(() => guard.seal(app)).not.toThrow()
  })

  it('a guard covers only what comes after it, and only below its path', async () => {
    const { routes } = await unguardedRoutesOf((app, guard) => {
      app.use('/admin/early', (_req, res) => void res.json({ ok: true }))
      app.use('/admin', guard({ scopes: ['admin'], response: { allow: ['ok'] } }))
      app.use('/administrator', (_req, res) => void res.json({ ok: true }))
    })
    expect(routes).toEqual(['USE /admin/early', 'USE /administrator'])
  })

  it('guard.passThrough needs a middleware and a reason', async () => {
    current = await guardedExpress(() => undefined, { seal: false })
    const { guard } = current
    for (const reason of ['', '  ', undefined]) {
      const err = thrown(() => guard.passThrough((_req, _res, next) => next(), reason as string))
      expect(isPortcullisError(err, 'PCL_INVALID_OPTIONS')).toBe(true)
      expect(err.message).toMatch(/reason/u)
    }
    expect(
      isPortcullisError(
        thrown(() => guard.passThrough('x' as never, 'r')),
        'PCL_INVALID_OPTIONS',
      ),
    ).toBe(true)
  })

  it('a plain route, listing the HEAD Express serves for GET', async () => {
    const { routes, message } = await unguardedRoutesOf((app, guard) => {
      app.get('/healthz', guard({ public: 'probe' }), ok)
      app.get('/v1/videos', ok)
    })
    expect(routes).toEqual(['GET /v1/videos', 'HEAD /v1/videos'])
    expect(message).not.toContain('/healthz')
  })

  it('routes of nested routers, at any depth', async () => {
    const { routes } = await unguardedRoutesOf((app, guard) => {
      const admin = express.Router()
      const deep = express.Router()
      deep.put('/deep', ok)
      admin.delete('/thing/:id', ok)
      admin.get('/fine', guard({ authenticated: true }), ok)
      admin.use('/nested', deep)
      app.use('/admin', admin)
      app.use(express.Router().post('/no-prefix', ok))
    })
    expect(routes).toEqual(
      expect.arrayContaining([
        'DELETE /admin/thing/:id',
        'PUT /admin/nested/deep',
        'POST /no-prefix',
      ]),
    )
    expect(routes.some((r) => r.includes('/fine'))).toBe(false)
  })

  it('routes of apps mounted with app.use, and of apps mounted in those', async () => {
    const { routes } = await unguardedRoutesOf((app, guard) => {
      const billing = express()
      const reports = express()
      reports.get('/monthly', ok)
      billing.get('/invoices/:id', ok)
      billing.get('/status', guard({ public: 'billing probe' }), ok)
      billing.use('/reports', reports)
      app.use('/billing', billing)
    })
    expect(routes).toEqual(
      expect.arrayContaining(['GET /billing/invoices/:id', 'GET /billing/reports/monthly']),
    )
    expect(routes.some((r) => r.includes('/status'))).toBe(false)
  })

  it('router.route().get().post(): each method on its own', async () => {
    const { routes } = await unguardedRoutesOf((app, guard) => {
      app
        .route('/v1/videos')
        .get(guard({ authenticated: true }), ok)
        .post(ok)
    })
    expect(routes).toEqual(['POST /v1/videos'])
  })

  it('a guard after a handler does not count: the handler would run first', async () => {
    const { message } = await unguardedRoutesOf((app, guard) => {
      app.get('/late', ok, guard({ authenticated: true }))
    })
    expect(message).toContain('GET /late (its guard comes after a handler: put it first)')
  })

  it('app.all (every method), route().all(), array paths and express.static', async () => {
    const { routes } = await unguardedRoutesOf((app, guard) => {
      app.all('/any', ok)
      app.route('/every').all(ok)
      app.get(['/a', '/b'], ok)
      app.use('/assets', express.static(tmpdir()))
      app.use(
        '/guarded-assets',
        guard({ public: 'static files', response: { passthrough: 'files' } }),
        express.static(tmpdir()),
      )
    })
    expect(routes).toEqual(
      expect.arrayContaining([
        'DELETE /any',
        'GET /any',
        'ALL /every',
        'GET /a',
        'GET /b',
        'USE /assets',
      ]),
    )
    expect(routes.some((r) => r.includes('guarded-assets'))).toBe(false)
  })

  it('reports every invalid guard and every unguarded route at once', async () => {
    current = await guardedExpress(() => undefined, { seal: false })
    const app = express()
    app.get('/v1/things/:id', current.guard({ claims: { sub: { param: 'userId' } } }), ok)
    app.get('/v1/other/:id', current.guard({ claims: { org: { param: 'orgId' } } }), ok)
    app.delete('/forgotten', ok)
    const err = thrown(() => current!.guard.seal(app))
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    const errors = err.errors as { code: string; route?: string }[]
    expect(errors.map((e) => [e.code, e.route ?? null])).toEqual([
      ['PCL_INVALID_GUARD', 'GET,HEAD /v1/things/:id'],
      ['PCL_INVALID_GUARD', 'GET,HEAD /v1/other/:id'],
      ['PCL_UNGUARDED_ROUTE', null],
    ])
    expect(err.message).toMatch(
      /2 route guards are invalid:[^]*1 route has no guard[^]*DELETE \/forgotten/,
    )
    expect(err.routes).toEqual(
      expect.arrayContaining([
        'GET,HEAD /v1/things/:id',
        'GET,HEAD /v1/other/:id',
        'DELETE /forgotten',
      ]),
    )
  })

  it('a guard names all of its problems at once: its rate limit and its response', async () => {
    current = await guardedExpress(() => undefined, {
      seal: false,
      portcullis: { response: { requireResponse: true } },
    })
    const err = thrown(() =>
      current!.guard({ authenticated: true, rateLimit: { max: 1, timeWindow: 1000 } }),
    )
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect((err.errors as { field: string }[]).map((e) => e.field)).toEqual([
      'guard.rateLimit',
      'guard.response',
    ])
    expect(err.message).toMatch(
      /guard\.rateLimit needs a rate limiter[^]*\n.*guard\.response is required/,
    )
  })

  it('refusing changes nothing: the app can be fixed and sealed', async () => {
    current = await guardedExpress(() => undefined, { seal: false })
    const app = express()
    app.get('/x', ok)
    expect(() => current!.guard.seal(app)).toThrow(/GET \/x/)
    expect(app.router.stack).toHaveLength(1)
  })
})

describe('a sealed app', () => {
  it('serves guarded routes of nested routers and mounted apps, with their params', async () => {
    current = await guardedExpress((app, guard) => {
      const tenants = express.Router({ mergeParams: true })
      tenants.get(
        '/videos/:id',
        guard({ claims: { tenant: { param: 'tenantId' } } }),
        (req, res) => {
          res.json({ params: req.params, sub: req.principal?.subject })
        },
      )
      app.use('/t/:tenantId', tenants)
      const billing = express()
      billing
        .route('/invoices/:id')
        .get(guard({ scopes: ['billing:read'] }), (req, res) => res.json({ id: req.params.id }))
        .post(guard({ scopes: ['billing:write'] }), (_req, res) => res.status(201).json({}))
      app.use('/billing', billing)
    })
    const token = await current.issuer.token({
      sub: 'u1',
      tenant: 'acme',
      scope: 'billing:read',
    })
    const video = await current.request('/t/acme/videos/7', { headers: bearer(token) })
    expect(video.status).toBe(200)
    expect(video.json()).toEqual({ params: { tenantId: 'acme', id: '7' }, sub: 'u1' })
    expect((await current.request('/t/globex/videos/7', { headers: bearer(token) })).status).toBe(
      403,
    )
    expect(
      (await current.request('/billing/invoices/9', { headers: bearer(token) })).json(),
    ).toEqual({ id: '9' })
    const post = await current.request('/billing/invoices/9', {
      method: 'POST',
      headers: bearer(token),
    })
    expect(post.status).toBe(403)
    expect(post.json()).toMatchObject({ code: 'PCL_INSUFFICIENT_SCOPE' })
    expect(current.events.at(-1)).toMatchObject({ route: '/billing/invoices/:id', method: 'POST' })
  })

  it('one guard instance on two routes is bound to each: its own template, its own count', async () => {
    current = await guardedExpress(
      (app, guard) => {
        const reader = guard({ authenticated: true, rateLimit: { max: 1, timeWindow: 60_000 } })
        app.get('/a/:id', reader, ok)
        app.get('/b/:id', reader, ok)
      },
      { portcullis: { rateLimit: { max: 5, timeWindow: '1 minute' } } },
    )
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    expect((await current.request('/a/1', { headers })).status).toBe(200)
    expect((await current.request('/b/1', { headers })).status).toBe(200)
    expect((await current.request('/a/2', { headers })).status).toBe(429)
    expect(current.events.map((e) => e.route)).toEqual(['/a/:id', '/b/:id', '/a/:id', '/a/:id'])
  })

  it('guards compose: a guard in app.use and the route guard both decide, both allowlists apply', async () => {
    current = await guardedExpress((app, guard) => {
      app.use(
        '/v1',
        guard({ authenticated: true, response: { allow: ['id', 'title', 'secretish'] } }),
      )
      app.get(
        '/v1/videos/:id',
        guard({ scopes: ['videos:read'], response: { allow: ['id', 'title', 'owner'] } }),
        (_req, res) => res.json({ id: '7', title: 't', owner: 'u', secretish: 's', other: 'x' }),
      )
    })
    const reader = bearer(await current.issuer.token({ sub: 'u', scope: 'videos:read' }))
    const res = await current.request('/v1/videos/7', { headers: reader })
    expect(res.json()).toEqual({ id: '7', title: 't' })
    const plain = bearer(await current.issuer.token({ sub: 'u' }))
    expect((await current.request('/v1/videos/7', { headers: plain })).status).toBe(403)
    expect(current.guard.routes().map((r) => `${r.method} ${r.url}`)).toEqual([
      'USE /v1',
      'GET /v1/videos/:id',
      'HEAD /v1/videos/:id',
    ])
  })

  it('two guards on one request verify its token once, and report a token failure once', async () => {
    const issuer = await createTestIssuer()
    let lookups = 0
    const routes = (app: Express, guard: Guard) => {
      app.use('/v1', guard({ public: 'both guards decide; the first reads the token' }))
      app.get('/v1/videos/:id', guard({ authenticated: true }), (_req, res) => res.send('ok'))
    }
    current = await guardedExpress(routes, {
      issuer,
      portcullis: {
        tokens: {
          ...trustedTokens(issuer),
          isRevoked: () => {
            lookups++
            return false
          },
        },
      },
    })
    const reader = bearer(await issuer.token({ sub: 'u' }))
    expect((await current.request('/v1/videos/7', { headers: reader })).status).toBe(200)
    expect(lookups).toBe(1)
    await current.close()
    current = await guardedExpress(routes, {
      issuer,
      portcullis: { reportOnly: 'including-tokens' },
    })
    const expired = bearer(await issuer.bad.expired())
    expect((await current.request('/v1/videos/7', { headers: expired })).status).toBe(200)
    const reported = current.events.filter((e) => e.reportOnly).map((e) => e.reason)
    expect(reported).toEqual(['PCL_TOKEN_EXPIRED', 'PCL_TOKEN_MISSING'])
  })

  it('a claim on a parent parameter without mergeParams is refused: it could never match', async () => {
    current = await guardedExpress(() => undefined, { seal: false })
    const app = express()
    const tenants = express.Router()
    tenants.get('/videos', current.guard({ claims: { tenant: { param: 'tenantId' } } }), ok)
    app.use('/t/:tenantId', tenants)
    const err = thrown(() => current!.guard.seal(app))
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.route).toBe('GET,HEAD /t/:tenantId/videos')
  })

  it('lists every route in the inventory, sorted, frozen, HEAD included', async () => {
    current = await guardedExpress((app, guard) => {
      app.get('/healthz', guard({ public: 'liveness probe' }), ok)
      const v1 = express.Router()
      v1.get('/videos/:id', guard({ scopes: ['videos:read'] }), ok)
      app.use('/v1', v1)
    })
    expectInventory(current.guard.routes(), 'scopes: videos:read')
    expect(current.guard.routes()[2]?.rateLimit).toBeNull()
  })

  it('refuses routes declared after seal, and a second seal', async () => {
    current = await guardedExpress((app, guard) => {
      app.get('/early', guard({ public: 'probe' }), ok)
    })
    const late = thrown(() => current!.app.get('/late', ok))
    expect(isPortcullisError(late, 'PCL_UNGUARDED_ROUTE')).toBe(true)
    expect(late.message).toMatch(/added after guard\.seal\(app\)/)
    expect(() => current!.guard.seal(current!.app)).toThrow(/already sealed/)
  })

  it('a guard on a route seal never saw refuses it with 403 (second line of defence)', async () => {
    current = await guardedExpress((app, guard) => {
      app.get('/sealed', guard({ public: 'probe' }), ok)
    })
    const unsealed = express()
    unsealed.get('/v', current.guard({ authenticated: true }), ok)
    const server = unsealed.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    const { port } = server.address() as { port: number }
    const token = await current.issuer.token({ sub: 'u' })
    const res = await fetch(`http://127.0.0.1:${port}/v`, { headers: bearer(token) })
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ code: 'PCL_ROUTE_NOT_GUARDED' })
    expect(current.logs.join('')).toMatch(/has not checked; refused with 403/)
    server.close()
  })

  it('requests start with req.principal null, before any guard runs', async () => {
    let seen: unknown = 'unset'
    current = await guardedExpress((app, guard) => {
      app.use(
        guard.passThrough((req, _res, next) => {
          seen = req.principal
          next()
        }, 'reads the principal'),
      )
      app.get('/healthz', guard({ public: 'probe' }), ok)
    })
    await current.request('/healthz')
    expect(seen).toBeNull()
  })
})

describe('unknown URLs', () => {
  it('answer 401 to anonymous requests, methods and OPTIONS included', async () => {
    current = await guardedExpress((app, guard) => {
      app.get('/healthz', guard({ public: 'probe' }), ok)
    })
    for (const [method, url] of [
      ['GET', '/admin'],
      ['POST', '/healthz'],
      ['DELETE', '/v1/users/1'],
      ['OPTIONS', '/healthz'],
    ] as const) {
      const res = await current.request(url, { method })
      expect(res.status, `${method} ${url}`).toBe(401)
      expect(res.json()).toMatchObject({ code: 'PCL_TOKEN_MISSING' })
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="test"')
      expect(res.headers.get('allow')).toBeNull()
    }
    expect(current.events.find((e) => e.decision === 'deny')).toMatchObject({
      route: null,
      reason: 'PCL_TOKEN_MISSING',
      status: 401,
    })
  })

  it('answer a problem+json 404 to a valid token, 401 to an invalid one', async () => {
    current = await guardedExpress((app, guard) => {
      app.get('/healthz', guard({ public: 'probe' }), ok)
    })
    const found = await current.request('/admin', {
      headers: bearer(await current.issuer.token()),
    })
    expect(found.status).toBe(404)
    expect(found.headers.get('content-type')).toBe('application/problem+json')
    expect(found.json()).toEqual({ type: 'about:blank', title: 'Not Found', status: 404 })
    const forged = await current.request('/admin', {
      headers: bearer(await current.issuer.bad.wrongKey()),
    })
    expect(forged.json()).toMatchObject({ code: 'PCL_TOKEN_INVALID' })
  })

  it("answer 404 to everyone with unknownRoutes: 'not-found'", async () => {
    current = await guardedExpress(
      (app, guard) => {
        app.get('/healthz', guard({ public: 'probe' }), ok)
      },
      { portcullis: { unknownRoutes: 'not-found' } },
    )
    expect((await current.request('/admin')).status).toBe(404)
  })
})

describe('errors are problem+json, never the HTML page, never a stack', () => {
  async function erroring() {
    current = await guardedExpress((app, guard) => {
      app.post('/json', guard({ public: 'echo' }), express.json(), (req, res) => res.json(req.body))
      app.get('/sync', guard({ public: 'boom' }), () => {
        throw new Error('db password=hunter2')
      })
      app.get('/async', guard({ public: 'boom' }), async () => {
        await Promise.resolve()
        throw new Error('db password=hunter2')
      })
      app.get('/http', guard({ public: 'boom' }), () => {
        throw Object.assign(new Error('no such thing: /etc/passwd'), { status: 404 })
      })
      app.get('/unavailable', guard({ public: 'boom' }), (_req, _res, next) => {
        next(Object.assign(new Error('upstream down at 10.0.0.7'), { statusCode: 503 }))
      })
    })
    return current
  }

  it('a body that does not parse is a 400 PCL_MALFORMED_REQUEST problem', async () => {
    const t = await erroring()
    const res = await t.request('/json', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"not json',
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.json()).toEqual({
      type: expect.stringContaining('#pcl_malformed_request'),
      title: 'Malformed request',
      status: 400,
      code: 'PCL_MALFORMED_REQUEST',
    })
  })

  it('sync and async handlers that throw are a 500 PCL_INTERNAL, logged server side', async () => {
    const t = await erroring()
    for (const url of ['/sync', '/async']) {
      const res = await t.request(url)
      expect(res.status, url).toBe(500)
      expect(res.json()).toEqual({
        type: expect.stringContaining('#pcl_internal'),
        title: 'Internal server error',
        status: 500,
        code: 'PCL_INTERNAL',
      })
      expect(res.body).not.toMatch(/hunter2|<html|at .*\.ts/)
    }
    expect(t.logs.filter((l) => l.includes('unhandled error'))).toHaveLength(2)
  })

  it('an error carrying an HTTP status keeps it, without its message', async () => {
    const t = await erroring()
    const missing = await t.request('/http')
    expect(missing.status).toBe(404)
    expect(missing.json()).toEqual({ type: 'about:blank', title: 'Not Found', status: 404 })
    const down = await t.request('/unavailable')
    expect(down.status).toBe(503)
    expect(down.body).not.toContain('10.0.0.7')
  })
})
