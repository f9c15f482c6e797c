import { parse as parseForm } from 'node:querystring'
import { Readable } from 'node:stream'
import { isPortcullisError, type RouteGuard } from '@portcullis/fastify'
import { bearer } from '@portcullis/testing'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { bodyCases } from '../cases/bodies.js'
import { expectBodyRequest, injected } from '../cases/checks.js'
import { guardedApp, readyError, type GuardedApp } from '../helpers.js'

let current: GuardedApp | undefined
afterEach(async () => {
  await current?.app.close().catch(() => undefined)
  current = undefined
})

const writer = { sub: 'user-1', scope: 'videos:write' }
const rule = {
  scopes: ['videos:write'],
  body: { writable: ['title', 'tags[]'], byScope: { 'videos:admin': ['ownerId'] } },
} satisfies RouteGuard

/** Parses JSON with JSON.parse, as Express does: prototype keys reach the guard as own keys. */
function parseJsonPlainly(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    try {
      done(null, text === '' ? undefined : JSON.parse(text as string))
    } catch (err) {
      done(err as Error, undefined)
    }
  })
}

function parseForms(app: FastifyInstance): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_req, text, done) => done(null, parseForm(text as string)),
  )
}

interface Route {
  runs: number
  seen: unknown
}

async function setup(
  routes: (app: FastifyInstance, route: Route) => void,
  options: Parameters<typeof guardedApp>[1] = {},
) {
  const route: Route = { runs: 0, seen: undefined }
  current = await guardedApp((app) => routes(app, route), options)
  const { app, issuer, events } = current
  return {
    app,
    events,
    route,
    async send(
      url: string,
      body: string | Readable,
      options: { claims?: Record<string, unknown>; method?: string; type?: string } = {},
    ) {
      const headers: Record<string, string> = bearer(await issuer.token(options.claims ?? writer))
      if (body !== '') headers['content-type'] = options.type ?? 'application/json'
      return app.inject({
        method: (options.method ?? 'POST') as 'POST',
        url,
        headers,
        payload: body,
      })
    },
  }
}

function record(route: Route) {
  return (request: FastifyRequest) => {
    route.runs++
    route.seen = request.body
    return { ok: true }
  }
}

// The body cases shared with the Express adapter's suite (test/cases/bodies.ts).
describe('the shared body cases', () => {
  it.each(bodyCases)('$name', async ({ guard, method = 'POST', requests }) => {
    const t = await setup((app, route) => {
      parseJsonPlainly(app)
      parseForms(app)
      app.route({ method, url: '/b', config: { guard }, handler: record(route) })
    })
    for (const r of requests) {
      const before = { ...t.route }
      const headers: Record<string, string> =
        r.claims === null ? {} : bearer(await current!.issuer.token(r.claims))
      if (r.body !== '') headers['content-type'] = r.contentType ?? 'application/json'
      const reply = await t.app.inject({ method, url: '/b', headers, payload: r.body })
      expectBodyRequest(injected(reply), r, { before, after: { ...t.route } }, t.events.at(-1))
    }
  })
})

describe("Fastify's own JSON parser", () => {
  it('refuses __proto__ and constructor.prototype itself (400); other constructor keys reach the guard, which refuses them', async () => {
    const t = await setup((app, route) => {
      app.post('/b', { config: { guard: rule } }, record(route))
    })
    const proto = await t.send('/b', '{"title":"t","__proto__":{"isAdmin":true}}')
    expect(proto.statusCode).toBe(400)
    const poisoned = await t.send('/b', '{"title":"t","constructor":{"prototype":{"x":1}}}')
    expect(poisoned.statusCode).toBe(400)
    const constructor = await t.send('/b', '{"title":"t","constructor":{"name":"x"}}')
    expect(constructor.statusCode).toBe(400)
    expect(constructor.json()).toMatchObject({ code: 'PCL_UNKNOWN_FIELD' })
    expect(t.route.runs).toBe(0)
  })
})

describe('no way around the body guard', () => {
  it('application preValidation hooks added after Portcullis, anywhere, see only the checked body', async () => {
    const seen: Record<string, unknown[]> = { root: [], child: [], route: [], preHandler: [] }
    const t = await setup((app, route) => {
      app.addHook('preValidation', async (request) => void seen.root!.push(request.body))
      app.addHook('preHandler', async (request) => void seen.preHandler!.push(request.body))
      void app.register(async (child) => {
        child.addHook('preValidation', async (request) => void seen.child!.push(request.body))
        child.post(
          '/b',
          {
            config: { guard: { ...rule, body: { ...rule.body, unknown: 'strip' } } },
            preValidation: async (request) => void seen.route!.push(request.body),
          },
          record(route),
        )
      })
    })
    const stripped = await t.send('/b', JSON.stringify({ title: 't', role: 'admin' }))
    expect(stripped.statusCode).toBe(200)
    const refused = await t.send('/b', JSON.stringify({ title: 't', ownerId: 'x' }))
    expect(refused.statusCode).toBe(403)
    for (const [hook, bodies] of Object.entries(seen)) {
      expect(bodies, hook).toEqual([{ title: 't' }])
    }
    expect(t.route.seen).toEqual({ title: 't' })
  })

  it('schema validation runs on the checked body', async () => {
    const t = await setup((app, route) => {
      app.post(
        '/b',
        {
          config: { guard: { ...rule, body: { ...rule.body, unknown: 'strip' } } },
          schema: {
            body: {
              type: 'object',
              properties: { title: { type: 'string' } },
              additionalProperties: false,
            },
          },
        },
        record(route),
      )
    })
    const res = await t.send('/b', JSON.stringify({ title: 't', role: 'admin' }))
    expect(res.statusCode).toBe(200)
    expect(t.route.seen).toEqual({ title: 't' })
  })

  it('an application preValidation hook added before Portcullis fails startup on body routes', async () => {
    current = await guardedApp(
      (app) => {
        app.post('/b', { config: { guard: rule } }, () => ({ ok: true }))
        app.get('/g', { config: { guard: { authenticated: true } } }, () => ({ ok: true }))
      },
      {
        before: (app) => {
          app.addHook('preValidation', function cacheLookup(_request, _reply, done) {
            done()
          })
        },
      },
    )
    const err = await readyError(current.app)
    expect(isPortcullisError(err, 'PCL_UNGUARDED_ROUTE')).toBe(true)
    expect(err.message).toContain('cacheLookup() on POST /b')
    expect(err.routes).toEqual(['POST /b'])
  })

  it("a custom content-type parser's result is checked; a parser that yields a string is refused", async () => {
    const t = await setup((app, route) => {
      app.addContentTypeParser('application/x-record', { parseAs: 'string' }, (_r, text, done) =>
        done(
          null,
          Object.fromEntries(
            String(text)
              .split(';')
              .map((pair) => pair.split('=')),
          ),
        ),
      )
      app.addContentTypeParser('application/x-raw', { parseAs: 'string' }, (_r, text, done) =>
        done(null, text),
      )
      app.post('/b', { config: { guard: rule } }, record(route))
    })
    const ok = await t.send('/b', 'title=t', { type: 'application/x-record' })
    expect(ok.statusCode).toBe(200)
    expect(t.route.seen).toEqual({ title: 't' })
    const owner = await t.send('/b', 'title=t;ownerId=x', { type: 'application/x-record' })
    expect(owner.json()).toMatchObject({ code: 'PCL_FIELD_NOT_WRITABLE' })
    const raw = await t.send('/b', 'ownerId=x', { type: 'application/x-raw' })
    expect(raw.statusCode).toBe(415)
    expect(raw.json()).toMatchObject({ code: 'PCL_BODY_UNREADABLE' })
    expect(t.route.runs).toBe(1)
  })

  it('a parser that leaves no body while one was sent (a multipart plugin) is refused', async () => {
    const t = await setup((app, route) => {
      app.addContentTypeParser('application/x-lazy', (_request, _payload, done) => done(null))
      app.post('/b', { config: { guard: rule } }, record(route))
    })
    const res = await t.send('/b', 'title=t', { type: 'application/x-lazy' })
    expect(res.statusCode).toBe(415)
    expect(res.json()).toMatchObject({ code: 'PCL_BODY_UNREADABLE' })
    expect(t.route.runs).toBe(0)
  })

  it('no hook after a refusal sees the refused body', async () => {
    const bodies: unknown[] = []
    const t = await setup((app, route) => {
      app.addHook('onResponse', async (request) => void bodies.push(request.body))
      app.post('/b', { config: { guard: rule } }, record(route))
    })
    await t.send('/b', JSON.stringify({ ownerId: 'x' }))
    expect(bodies).toEqual([undefined])
  })
})

describe('maxBytes', () => {
  it('refuses a chunked body over maxBytes once counted, before the handler', async () => {
    const t = await setup((app, route) => {
      app.post(
        '/b',
        { config: { guard: { ...rule, body: { ...rule.body, maxBytes: 64 } } } },
        record(route),
      )
    })
    const chunks = (text: string) => Readable.from([text.slice(0, 10), text.slice(10)])
    const small = await t.send('/b', chunks(JSON.stringify({ title: 'small' })))
    expect(small.statusCode).toBe(200)
    const large = await t.send('/b', chunks(JSON.stringify({ title: 'x'.repeat(100) })))
    expect(large.statusCode).toBe(413)
    expect(large.json()).toMatchObject({ code: 'PCL_BODY_TOO_LARGE' })
    expect(t.route.runs).toBe(1)
    expect(t.events.at(-1)).toMatchObject({ decision: 'deny', reason: 'PCL_BODY_TOO_LARGE' })
    // The bytes the parser read are counted: padding that JSON.parse drops counts too.
    const padded = await t.send('/b', chunks(`{"title":"small"${' '.repeat(100)}}`))
    expect(padded.statusCode).toBe(413)
  })
})

describe('the inventory and requireBody', () => {
  function routes(app: FastifyInstance): void {
    app.post('/v1/videos', { config: { guard: rule } }, () => ({ ok: true }))
    app.put('/v1/videos/:id', { config: { guard: { authenticated: true } } }, () => ({ ok: true }))
    app.patch('/v1/videos/:id', { config: { guard: { authenticated: true } } }, () => ({}))
    app.post(
      '/v1/uploads',
      { config: { guard: { authenticated: true, body: { passthrough: 'file upload' } } } },
      () => ({ ok: true }),
    )
    app.get('/v1/videos', { config: { guard: { authenticated: true } } }, () => [])
  }

  it('flags every route that accepts a body without guard.body', async () => {
    current = await guardedApp(routes)
    await current.app.ready()
    const body = Object.fromEntries(
      current.app.portcullis.routes().map((r) => [`${r.method} ${r.url}`, r.body]),
    )
    expect(body).toEqual({
      'GET /v1/videos': null,
      'HEAD /v1/videos': null,
      'POST /v1/videos': '2 fields (+1 by scope); reject',
      'PUT /v1/videos/:id': 'NONE: request bodies are not allowlisted',
      'PATCH /v1/videos/:id': 'NONE: request bodies are not allowlisted',
      'POST /v1/uploads': 'passthrough: file upload',
    })
  })

  it('requireBody: true fails startup naming every such route at once', async () => {
    current = await guardedApp(routes, { portcullis: { requireBody: true } })
    const err = await readyError(current.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.message).toContain('PUT /v1/videos/:id: guard.body is required')
    expect(err.message).toContain('PATCH /v1/videos/:id: guard.body is required')
    expect(err.routes).toEqual(['PUT /v1/videos/:id', 'PATCH /v1/videos/:id'])
  })

  it('requireBody must be a boolean', async () => {
    const err = await guardedApp(() => undefined, {
      portcullis: { requireBody: 'yes' as never },
    }).then(
      () => null,
      (e: unknown) => e,
    )
    expect(isPortcullisError(err, 'PCL_INVALID_OPTIONS')).toBe(true)
  })

  it('an invalid guard.body names the route and the field', async () => {
    current = await guardedApp((app) => {
      app.post(
        '/b',
        { config: { guard: { authenticated: true, body: { writable: ['a..b'] } } } },
        () => ({}),
      )
    })
    const err = await readyError(current.app)
    expect(err).toMatchObject({ code: 'PCL_INVALID_GUARD', route: 'POST /b' })
    expect(err.message).toContain('guard.body.writable[0]')
  })
})
