// Ways around the guard on Fastify (issue 17): what an attacker, or an app hook, could use to get
// a request past the guard. test/express/bypass.test.ts holds the Express counterparts.
import portcullis, { isPortcullisError, type Principal } from '@portcullis/fastify'
import { policyPlugin } from '@portcullis/policy'
import { createTestIssuer, bearer } from '@portcullis/testing'
import { tokensPlugin } from '@portcullis/tokens'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { guardedApp, readyError, trustedTokens, type GuardedApp } from '../helpers.js'

let current: GuardedApp | undefined
const apps: FastifyInstance[] = []
afterEach(async () => {
  await current?.app.close().catch(() => undefined)
  current = undefined
  await Promise.all(apps.splice(0).map((app) => app.close().catch(() => undefined)))
})

const ALLOW_ID = { authenticated: true, response: { allow: ['id'] } } as const

// A 200 response schema that requires `field` besides `id`.
const requiring = (field: string) => ({
  response: {
    200: {
      type: 'object',
      required: [field],
      properties: { id: { type: 'number' }, [field]: { type: 'string' } },
    },
  },
})

// What a legacy API-key hook, or a test shortcut left in, might plant.
const planted: Principal = Object.freeze({
  subject: 'admin',
  issuer: 'https://auth.test',
  clientId: null,
  scopes: new Set(['admin']),
  claims: { sub: 'admin' },
  expiresAt: null,
})

function plant(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    ;(request as unknown as { principal: Principal }).principal = planted
    done()
  })
}

describe('application hooks that answer before the guard', () => {
  // A response cache, a maintenance page, a "fast path": an onRequest hook that replies.
  function cache(app: FastifyInstance): void {
    app.addHook('onRequest', function responseCache(_request, reply, done) {
      void reply.send({ cached: true, rows: ['whole row'] })
      done()
    })
  }

  it('added before Portcullis: startup is refused, naming the hook and what to move', async () => {
    current = await guardedApp(
      (app) => {
        app.get('/admin', { config: { guard: { scopes: ['admin'] } } }, () => ({ ok: true }))
      },
      { before: cache },
    )
    const err = await readyError(current.app)
    expect(err).toMatchObject({ code: 'PCL_UNGUARDED_ROUTE' })
    expect(err.message).toContain('responseCache() on GET,HEAD /admin')
    expect(err.message).toMatch(/Register Portcullis .* before the plugins and hooks/)
  })

  it.each([
    ['at the root', 'root'],
    ['in a child context', 'child'],
  ] as const)('added after Portcullis %s: the guard decides first', async (_name, where) => {
    let runs = 0
    current = await guardedApp(async (app) => {
      const routes = (scope: FastifyInstance): void => {
        cache(scope)
        scope.get('/admin', { config: { guard: { scopes: ['admin'] } } }, () => {
          runs++
          return { ok: true }
        })
      }
      if (where === 'root') routes(app)
      else await app.register(async (child) => routes(child))
    })
    const { app, issuer } = current
    await app.ready()
    const anonymous = await app.inject('/admin')
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.body).not.toContain('whole row')
    const reader = await app.inject({
      url: '/admin',
      headers: bearer(await issuer.token({ sub: 'u', scope: 'videos:read' })),
    })
    expect(reader.statusCode).toBe(403)
    // An allowed request gets what the hook answers: the guard let it through.
    const admin = await app.inject({
      url: '/admin',
      headers: bearer(await issuer.token({ sub: 'a', scope: 'admin' })),
    })
    expect(admin.statusCode).toBe(200)
    expect(runs).toBe(0)
  })

  it('the rate limit counts before an application hook answers', async () => {
    current = await guardedApp(
      (app) => {
        cache(app)
        app.get('/v', { config: { guard: { authenticated: true } } }, () => ({ ok: true }))
      },
      { portcullis: { rateLimit: { max: 1, timeWindow: '1 minute' } } },
    )
    const { app, issuer } = current
    const headers = bearer(await issuer.token({ sub: 'u' }))
    expect((await app.inject({ url: '/v', headers })).statusCode).toBe(200)
    const second = await app.inject({ url: '/v', headers })
    expect(second.statusCode).toBe(429)
    expect(second.json()).toMatchObject({ code: 'PCL_RATE_LIMITED' })
  })
})

describe('a request.principal that Portcullis did not set', () => {
  it('an onRequest hook after Portcullis cannot open an admin route, nor show its identity', async () => {
    let seen: unknown = 'handler never ran'
    current = await guardedApp((app) => {
      plant(app)
      app.get('/admin', { config: { guard: { scopes: ['admin'] } } }, (request) => {
        seen = request.principal?.subject
        return { ok: true }
      })
    })
    const { app, issuer, logs } = current
    const anonymous = await app.inject('/admin')
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.json()).toMatchObject({ code: 'PCL_TOKEN_MISSING' })

    const reader = await app.inject({
      url: '/admin',
      headers: bearer(await issuer.token({ sub: 'user-1', scope: 'videos:read' })),
    })
    expect(reader.statusCode).toBe(403)
    expect(seen).toBe('handler never ran')

    // An allowed request: the handler sees the verified principal, not the planted one.
    const admin = await app.inject({
      url: '/admin',
      headers: bearer(await issuer.token({ sub: 'real-admin', scope: 'admin' })),
    })
    expect(admin.statusCode).toBe(200)
    expect(seen).toBe('real-admin')
    // The assignment was ignored, and said so once.
    expect(logs.filter((line) => line.includes('request.principal was assigned'))).toHaveLength(1)
  })

  it('before Portcullis, the planting hook itself is refused at startup', async () => {
    current = await guardedApp(
      (app) => {
        app.get('/admin', { config: { guard: { scopes: ['admin'] } } }, () => ({ ok: true }))
      },
      { before: plant },
    )
    expect(await readyError(current.app)).toMatchObject({ code: 'PCL_UNGUARDED_ROUTE' })
  })
})

describe('registering Portcullis twice', () => {
  async function issuerOptions() {
    const issuer = await createTestIssuer()
    return { tokens: trustedTokens(issuer), response: { requireResponse: false } }
  }

  it('@portcullis/fastify: a catchable PortcullisConfigError, not a crash', async () => {
    const options = await issuerOptions()
    const app = Fastify()
    apps.push(app)
    await app.register(portcullis, options)
    const err = await app.register(portcullis, options).then(
      () => null,
      (e: unknown) => e,
    )
    expect(isPortcullisError(err)).toBe(true)
    expect(err).toMatchObject({ code: 'PCL_INVALID_OPTIONS' })
    expect(String((err as Error).message)).toMatch(/already registered/)
  })

  it('a single plugin registered again in a child context is refused too', async () => {
    const { tokens } = await issuerOptions()
    const app = Fastify()
    apps.push(app)
    await app.register(tokensPlugin, tokens)
    await app.register(policyPlugin)
    const inner = await app
      .register(async (child) => {
        await child.register(tokensPlugin, tokens)
      })
      .then(
        () => null,
        (e: unknown) => e,
      )
    expect(inner).toMatchObject({ code: 'PCL_INVALID_OPTIONS' })
    expect(String((inner as Error).message)).toContain('@portcullis/tokens')
  })
})

describe('bodies the guard cannot read whole', () => {
  const guard = { authenticated: true as const, response: { allow: ['id'] } }

  it.each([
    [
      'an async generator',
      async function* () {
        yield { id: 1, secret: 'whole row' }
      },
    ],
    [
      'a generator',
      function* () {
        yield { id: 1, secret: 'whole row' }
      },
    ],
  ] as const)('%s is refused like a stream (500), and returned', async (_name, make) => {
    let body: ReturnType<typeof make> | undefined
    current = await guardedApp((app) => {
      app.get('/gen', { config: { guard } }, (_request, reply) => {
        body = make()
        return reply.send(body)
      })
    })
    const { app, issuer } = current
    const res = await app.inject({ url: '/gen', headers: bearer(await issuer.token({ sub: 'u' })) })
    expect(res.statusCode).toBe(500)
    expect(res.json()).toMatchObject({ code: 'PCL_RESPONSE_REJECTED' })
    expect(res.body).not.toContain('whole row')
    // Returned: the generator is done, whatever it held released.
    expect(await body!.next()).toMatchObject({ done: true })
  })

  it('a refused stream is destroyed, not left open', async () => {
    const { Readable } = await import('node:stream')
    const streams: InstanceType<typeof Readable>[] = []
    current = await guardedApp((app) => {
      app.get('/file', { config: { guard } }, (_request, reply) => {
        const stream = Readable.from([JSON.stringify({ id: 1, secret: 'whole row' })])
        streams.push(stream)
        return reply.type('application/json').send(stream)
      })
    })
    const { app, issuer } = current
    const headers = bearer(await issuer.token({ sub: 'u' }))
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ url: '/file', headers })
      expect(res.statusCode).toBe(500)
      expect(res.body).not.toContain('whole row')
    }
    expect(streams).toHaveLength(5)
    expect(streams.every((s) => s.destroyed)).toBe(true)
  })
})

describe('the pre-auth limiter, on by default with rateLimit', () => {
  it.each([
    ['default (20 failures per minute per address)', {}, 429],
    ['preAuth: false', { preAuth: false as const }, 401],
  ] as const)('%s: forged token 21 from one address', async (_name, extra, status) => {
    current = await guardedApp(
      (app) => {
        app.get('/v', { config: { guard: { authenticated: true } } }, () => ({ ok: true }))
      },
      { portcullis: { rateLimit: { max: 1_000, timeWindow: '1 minute', ...extra } } },
    )
    const { app, issuer } = current
    const forged = `${(await issuer.token({ sub: 'u' })).slice(0, -4)}AAAA`
    for (let i = 0; i < 20; i++) {
      const res = await app.inject({ url: '/v', headers: { authorization: `Bearer ${forged}` } })
      expect(res.statusCode).toBe(401)
    }
    const next = await app.inject({ url: '/v', headers: { authorization: `Bearer ${forged}` } })
    expect(next.statusCode).toBe(status)
    if (status === 429) expect(next.headers['retry-after']).toBeDefined()
  })
})

describe('nothing hangs: user callbacks have a deadline', () => {
  const never = () => new Promise<never>(() => undefined)

  it('an isRevoked that never settles: 503 PCL_REVOCATION_UNAVAILABLE after callbackTimeout', async () => {
    const issuer = await createTestIssuer()
    current = await guardedApp(
      (app) => {
        app.get('/v', { config: { guard: { authenticated: true } } }, () => ({ ok: true }))
      },
      {
        issuer,
        portcullis: {
          tokens: { ...trustedTokens(issuer), isRevoked: never, callbackTimeout: 50 },
        },
      },
    )
    const started = performance.now()
    const res = await current.app.inject({
      url: '/v',
      headers: bearer(await issuer.token({ sub: 'u' })),
    })
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ code: 'PCL_REVOCATION_UNAVAILABLE' })
    expect(performance.now() - started).toBeLessThan(2_000)
    expect(current.events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_REVOCATION_UNAVAILABLE',
    })
  })

  it('a check that never settles: 503 PCL_CHECK_UNAVAILABLE after callbackTimeout, audited', async () => {
    let runs = 0
    current = await guardedApp(
      (app) => {
        app.get('/v', { config: { guard: { authenticated: true, check: never } } }, () => {
          runs++
          return { ok: true }
        })
      },
      { portcullis: { callbackTimeout: '50ms' } },
    )
    const res = await current.app.inject({
      url: '/v',
      headers: bearer(await current.issuer.token({ sub: 'u' })),
    })
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ code: 'PCL_CHECK_UNAVAILABLE' })
    expect(runs).toBe(0)
    expect(current.events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_CHECK_UNAVAILABLE',
    })
  })

  it('callbackTimeout is validated', async () => {
    const app = Fastify()
    apps.push(app)
    const issuer = await createTestIssuer()
    const err = await app
      .register(portcullis, { tokens: trustedTokens(issuer), callbackTimeout: 0 })
      .then(
        () => null,
        (e: unknown) => e,
      )
    expect(err).toMatchObject({ code: 'PCL_INVALID_OPTIONS' })
    expect(String((err as Error).message)).toContain('callbackTimeout')
  })
})

describe('responses that slip past', () => {
  it('an app onSend hook that turns a denial into a 200 does not: the denial stays', async () => {
    current = await guardedApp((app) => {
      app.addHook('onSend', (_request, reply, payload, done) => {
        void reply.code(200)
        done(null, JSON.stringify({ rows: ['whole row'] }))
      })
      app.get('/v', { config: { guard: { authenticated: true } } }, () => ({ ok: true }))
    })
    const res = await current.app.inject('/v')
    expect(res.statusCode).toBe(401)
    expect(res.headers['content-type']).toBe('application/problem+json')
    expect(res.json()).toMatchObject({ code: 'PCL_TOKEN_MISSING' })
    expect(res.body).not.toContain('whole row')
  })

  it('a custom not-found handler cannot leak fields: a problem+json 404, with a valid token', async () => {
    current = await guardedApp((app) => {
      app.setNotFoundHandler((_request, reply) => {
        void reply.code(404).send({ error: 'missing', debug: { db: 'videos-internal' } })
      })
      app.get('/v', { config: { guard: { authenticated: true } } }, () => ({ ok: true }))
    })
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    const res = await current.app.inject({ url: '/nowhere', headers })
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toBe('application/problem+json')
    expect(res.json()).toEqual({ type: 'about:blank', title: 'Not Found', status: 404 })
    // Anonymous: still the guard's 401, the route map not enumerable.
    expect((await current.app.inject('/nowhere')).statusCode).toBe(401)
  })

  it('an app onSend hook that adds fields back after the projection: the final body is checked', async () => {
    current = await guardedApp((app) => {
      // Root and child-context hooks, added after Portcullis: both run after the projection.
      app.addHook('onSend', async (_request, _reply, payload) => {
        if (typeof payload !== 'string') return payload
        return JSON.stringify({ ...(JSON.parse(payload) as object), secret: 'root hook' })
      })
      app.register(async (child) => {
        child.addHook('onSend', async (_request, _reply, payload) =>
          typeof payload === 'string'
            ? payload.replace(/\}$/u, ',"internalNotes":"child hook"}')
            : payload,
        )
        child.get(
          '/v/:id',
          { config: { guard: { authenticated: true, response: { allow: ['id', 'title'] } } } },
          () => ({ id: '7', title: 't', secret: 'handler' }),
        )
      })
    })
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    const res = await current.app.inject({ url: '/v/7', headers })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ id: '7', title: 't' })
  })

  it('an onSend hook added before Portcullis fails startup on allowlisted routes', async () => {
    const err = await readyError(
      await guardedApp(
        (app) => {
          app.get(
            '/v',
            { config: { guard: { authenticated: true, response: { allow: ['id'] } } } },
            () => ({ id: '7' }),
          )
        },
        {
          before: (app) => {
            app.addHook('onSend', async function addDebug(_request, _reply, payload) {
              return payload
            })
          },
        },
      ).then((guarded) => (current = guarded).app),
    )
    expect(isPortcullisError(err, 'PCL_UNGUARDED_ROUTE')).toBe(true)
    expect(err.message).toContain('onSend hooks run before Portcullis')
    expect(err.message).toContain('addDebug()')
  })

  it("an onRoute hook that assigns a route's hook lists fails startup: the allowlist's would be gone", async () => {
    const err = await readyError(
      await guardedApp((app) => {
        app.addHook('onRoute', (routeOptions) => {
          if (routeOptions.url !== '/v') return
          routeOptions.onSend = [async (_request, _reply, payload) => payload]
          routeOptions.preSerialization = [async (_request, _reply, payload) => payload]
        })
        app.get('/v', { config: { guard: ALLOW_ID } }, () => ({ id: 1, secret: 's' }))
      }).then((guarded) => (current = guarded).app),
    )
    expect(isPortcullisError(err, 'PCL_UNGUARDED_ROUTE')).toBe(true)
    expect(err.message).toContain('preSerialization, onSend on GET /v')
    expect(err.routes).toEqual(['GET /v', 'HEAD /v'])
  })

  it('an onRoute hook after Portcullis that adds an onSend hook after its check fails startup', async () => {
    const err = await readyError(
      await guardedApp((app) => {
        app.addHook('onRoute', (routeOptions) => {
          const existing = routeOptions.onSend
          const list = Array.isArray(existing) ? existing : existing ? [existing] : []
          routeOptions.onSend = [
            ...list,
            async (_request: unknown, _reply: unknown, payload: unknown) =>
              typeof payload === 'string' ? payload.replace(/\}$/u, ',"secret":"s"}') : payload,
          ]
        })
        app.get('/v', { config: { guard: ALLOW_ID } }, () => ({ id: 1, secret: 's' }))
      }).then((guarded) => (current = guarded).app),
    )
    expect(isPortcullisError(err, 'PCL_UNGUARDED_ROUTE')).toBe(true)
    expect(err.message).toContain('onSend on GET /v')
  })

  it('an onRoute hook before Portcullis may add hooks: they run before its check', async () => {
    current = await guardedApp(
      (app) => {
        app.get('/v', { config: { guard: ALLOW_ID } }, () => ({ id: 1, secret: 's' }))
      },
      {
        before: (app) => {
          app.addHook('onRoute', (routeOptions) => {
            routeOptions.preSerialization = [
              async (_request: unknown, _reply: unknown, payload: unknown) => ({
                ...(payload as object),
                internal: 'added',
              }),
            ]
          })
        },
      },
    )
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    const res = await current.app.inject({ url: '/v', headers })
    expect(res.json()).toEqual({ id: 1 })
  })

  it("Fastify's own 400 (bad percent-encoding) and 414 (long parameter) are problem+json", async () => {
    current = await guardedApp((app) => {
      app.get('/v/:id', { config: { guard: { authenticated: true } } }, () => ({ ok: true }))
    })
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    const [minor = 0, patch = 0] = current.app.version.split('.').slice(1).map(Number)
    if (minor < 6 || (minor === 6 && patch < 2)) {
      // Fastify before 5.6.2 reads frameworkErrors only when the app is created: said at startup.
      await current.app.ready()
      expect(current.logs.some((line) => line.includes('upgrade to Fastify 5.6.2'))).toBe(true)
      return
    }
    for (const request of [{ url: '/v/%zz', headers }, { url: '/v/%zz' }]) {
      const bad = await current.app.inject(request)
      expect(bad.statusCode).toBe(400)
      expect(bad.headers['content-type']).toBe('application/problem+json')
      expect(bad.json()).toMatchObject({ status: 400, code: 'PCL_MALFORMED_REQUEST' })
      // Fastify's own body echoes the URL back.
      expect(bad.body).not.toContain('%zz')
    }
    const long = await current.app.inject({ url: `/v/${'x'.repeat(150)}`, headers })
    expect(long.statusCode).toBe(414)
    expect(long.headers['content-type']).toBe('application/problem+json')
    expect(long.json()).toMatchObject({ status: 414, code: 'PCL_URI_TOO_LONG' })
    expect(long.body).not.toContain('xxxxxxxx')
  })

  it("an application's own frameworkErrors handler is kept", async () => {
    const issuer = await createTestIssuer()
    const app = Fastify({
      frameworkErrors: (_error, _request, reply) =>
        void (reply as unknown as FastifyReply).code(400).send('own handler'),
    })
    apps.push(app)
    await app.register(portcullis, {
      tokens: trustedTokens(issuer),
      response: { requireResponse: false },
    })
    app.get('/v/:id', { config: { guard: { authenticated: true } } }, () => ({ ok: true }))
    const res = await app.inject('/v/%zz')
    expect(res.statusCode).toBe(400)
    expect(res.body).toBe('own handler')
  })

  it('reply.serializer output is projected: the allowlist sees the value first', async () => {
    current = await guardedApp((app) => {
      app.get(
        '/s',
        { config: { guard: { authenticated: true, response: { allow: ['id'] } } } },
        (_request, reply) =>
          reply.serializer((value: unknown) => JSON.stringify(value)).send({ id: 1, secret: 's' }),
      )
    })
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    const res = await current.app.inject({ url: '/s', headers })
    expect(res.statusCode).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ id: 1 })
  })

  // A step after the projection fails, and Fastify sends that error instead: its body is checked
  // as an error body (the projection of the payload that never left does not vouch for it).
  it.each([
    [
      'a reply.serializer that throws',
      (app: FastifyInstance) =>
        app.get('/e', { config: { guard: ALLOW_ID } }, (_request, reply) =>
          reply
            .serializer(() => {
              throw new Error('cannot serialize row SECRET-ROW')
            })
            .send({ id: 1, secret: 's' }),
        ),
    ],
    [
      'a response schema the projected body fails',
      (app: FastifyInstance) =>
        app.get(
          '/e',
          {
            config: { guard: ALLOW_ID },
            schema: requiring('secret'),
          },
          () => ({ id: 1, secret: 'SECRET-ROW' }),
        ),
    ],
    [
      'an onSend hook that fails once',
      (app: FastifyInstance) => {
        let failed = false
        app.addHook('onSend', async (_request, _reply, payload) => {
          if (failed) return payload
          failed = true
          throw new Error('hook failed: SECRET-ROW')
        })
        app.get('/e', { config: { guard: ALLOW_ID } }, () => ({ id: 1, secret: 'SECRET-ROW' }))
      },
    ],
  ])('%s: the error body is checked, not let through as projected', async (_case, declare) => {
    current = await guardedApp((app) => {
      declare(app)
    })
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    const res = await current.app.inject({ url: '/e', headers })
    expect(res.statusCode).toBe(500)
    expect(res.body).not.toContain('SECRET')
    expect(res.body).not.toContain('message')
    expect(res.body).not.toContain('stack')
  })

  it('an error handler answering 200 after a failed response schema: its body is projected', async () => {
    current = await guardedApp((app) => {
      app.setErrorHandler((error, _request, reply) =>
        reply
          .code(200)
          .type('application/json')
          .send(JSON.stringify({ id: 1, secret: 'SECRET-ROW', message: (error as Error).message })),
      )
      app.get(
        '/e',
        {
          config: { guard: ALLOW_ID },
          schema: requiring('title'),
        },
        () => ({ id: 1, secret: 's' }),
      )
    })
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    const res = await current.app.inject({ url: '/e', headers })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ id: 1 })
  })
})

describe('reply.hijack() and reply.raw', () => {
  const guard = { authenticated: true as const, response: { allow: ['id'] } }

  it('a response that leaves past the allowlist is audited and marked in the inventory', async () => {
    current = await guardedApp((app) => {
      app.get('/raw', { config: { guard } }, (_request, reply) => {
        reply.hijack()
        reply.raw.writeHead(200, { 'content-type': 'application/json' })
        reply.raw.end(JSON.stringify({ id: 1, secret: 'whole row' }))
      })
      app.get('/ok', { config: { guard } }, () => ({ id: 1, secret: 's' }))
    })
    const { app, issuer, events } = current
    const headers = bearer(await issuer.token({ sub: 'u' }))
    expect(app.portcullis.routes().find((r) => r.url === '/raw')?.response).not.toContain(
      'UNCHECKED',
    )
    // Allowed and denied requests through the allowlist raise nothing.
    expect((await app.inject({ url: '/ok', headers })).json()).toEqual({ id: 1 })
    expect((await app.inject('/raw')).statusCode).toBe(401)
    const before = events.length
    expect(events.some((e) => e.reason === 'PCL_RESPONSE_REJECTED')).toBe(false)

    await app.inject({ url: '/raw', headers })
    const unchecked = events.slice(before).filter((e) => e.reason === 'PCL_RESPONSE_REJECTED')
    expect(unchecked).toHaveLength(1)
    expect(unchecked[0]).toMatchObject({ decision: 'deny', reportOnly: true, route: '/raw' })
    expect(app.portcullis.routes().find((r) => r.url === '/raw')?.response).toContain(
      'UNCHECKED: reply.hijack() or reply.raw',
    )
    expect(app.portcullis.routes().find((r) => r.url === '/ok')?.response).not.toContain(
      'UNCHECKED',
    )
  })
})
