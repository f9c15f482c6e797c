import { Readable } from 'node:stream'
import { isPortcullisError, type RouteGuard } from '@portcullis/express'
import { bearer } from '@portcullis/testing'
import express, { type Express, type Request, type RequestHandler } from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import { bodyCases } from '../cases/bodies.js'
import { expectBodyRequest, fetched } from '../cases/checks.js'
import { guardedExpress, thrown, type GuardedExpress } from './helpers.js'

let current: GuardedExpress | undefined
afterEach(async () => {
  await current?.close()
  current = undefined
})

const writer = { sub: 'user-1', scope: 'videos:write' }
const rule = {
  scopes: ['videos:write'],
  body: { writable: ['title', 'tags[]'], byScope: { 'videos:admin': ['ownerId'] } },
} satisfies RouteGuard

interface Route {
  runs: number
  seen: unknown
}

function record(route: Route): RequestHandler {
  return (req: Request, res) => {
    route.runs++
    route.seen = req.body
    res.json({ ok: true })
  }
}

async function setup(
  routes: (app: Express, guard: GuardedExpress['guard'], route: Route) => void,
  options: Parameters<typeof guardedExpress>[1] = {},
) {
  const route: Route = { runs: 0, seen: undefined }
  current = await guardedExpress((app, guard) => routes(app, guard, route), options)
  const h = current
  return {
    ...h,
    route,
    async send(
      url: string,
      body: string | ReadableStream<Uint8Array>,
      options: { claims?: Record<string, unknown>; method?: string; type?: string } = {},
    ) {
      const headers: Record<string, string> = bearer(await h.issuer.token(options.claims ?? writer))
      if (body !== '') headers['content-type'] = options.type ?? 'application/json'
      const init = { method: options.method ?? 'POST', headers, body, duplex: 'half' }
      return h.request(url, init as never)
    },
  }
}

// The body cases of the Fastify suite (test/cases/bodies.ts), against the Express adapter.
describe('the shared body cases', () => {
  it.each(bodyCases)('$name', async ({ guard, method = 'POST', requests }) => {
    const t = await setup((app, g, route) => {
      app.use(express.json(), express.urlencoded({ extended: true }), express.text())
      app[method.toLowerCase() as 'post']('/b', g(guard), record(route))
    })
    for (const r of requests) {
      const before = { ...t.route }
      const headers: Record<string, string> =
        r.claims === null ? {} : bearer(await t.issuer.token(r.claims))
      if (r.body !== '') headers['content-type'] = r.contentType ?? 'application/json'
      const reply = await t.request('/b', { method, headers, body: r.body })
      expectBodyRequest(fetched(reply), r, { before, after: { ...t.route } }, t.events.at(-1))
    }
  })
})

describe('a body parsed after the guard', () => {
  it('is checked once the route parser ran, before the handler', async () => {
    const t = await setup((app, guard, route) => {
      app.post(
        '/b',
        guard({ ...rule, body: { ...rule.body, unknown: 'strip' } }),
        express.json(),
        record(route),
      )
    })
    const ok = await t.send('/b', JSON.stringify({ title: 't', role: 'admin' }))
    expect(ok.status).toBe(200)
    expect(t.route.seen).toEqual({ title: 't' })
    const refused = await t.send('/b', JSON.stringify({ title: 't', ownerId: 'x' }))
    expect(refused.status).toBe(403)
    expect(refused.json()).toMatchObject({ code: 'PCL_FIELD_NOT_WRITABLE' })
    expect(t.route.runs).toBe(1)
  })

  it('a middleware between the parser and the handler sees only the checked body', async () => {
    const seen: unknown[] = []
    const t = await setup((app, guard, route) => {
      app.post(
        '/b',
        guard({ ...rule, body: { ...rule.body, unknown: 'strip' } }),
        express.json(),
        (req, _res, next) => {
          seen.push(req.body)
          next()
        },
        record(route),
      )
    })
    await t.send('/b', JSON.stringify({ title: 't', role: 'admin' }))
    await t.send('/b', JSON.stringify({ ownerId: 'x' }))
    expect(seen).toEqual([{ title: 't' }])
  })

  it('a body that reaches a handler unparsed is refused (fail closed)', async () => {
    const t = await setup((app, guard, route) => {
      app.post('/raw', guard(rule), (req, res, next) => {
        // A handler that would read the stream itself.
        route.runs++
        next()
      })
      app.post(
        '/custom',
        guard(rule),
        function myParser(req, _res, next) {
          req.body = { parsedBy: 'me' }
          next()
        },
        record(route),
      )
      app.post('/mismatch', guard(rule), express.json(), record(route))
    })
    for (const url of ['/raw', '/custom']) {
      const res = await t.send(url, JSON.stringify({ title: 't' }))
      expect(res.status, url).toBe(415)
      expect(res.json()).toMatchObject({ code: 'PCL_BODY_UNREADABLE' })
    }
    // express.json() skips a form body: it reaches the handler unparsed.
    const res = await t.send('/mismatch', 'title=t', { type: 'application/x-www-form-urlencoded' })
    expect(res.status).toBe(415)
    expect(t.route.runs).toBe(0)
  })

  it('a handler that replaces req.body has the new body checked too', async () => {
    const t = await setup((app, guard, route) => {
      app.use(express.json())
      app.post(
        '/b',
        guard(rule),
        (req, _res, next) => {
          req.body = { ...req.body, ownerId: 'from-a-lookup' }
          next()
        },
        record(route),
      )
    })
    const res = await t.send('/b', JSON.stringify({ title: 't' }))
    expect(res.status).toBe(403)
    expect(t.route.runs).toBe(0)
  })

  it('a guard mounted with use checks a body parsed before it, and refuses one nothing parsed', async () => {
    const t = await setup((app, guard, route) => {
      app.use('/parsed', express.json(), guard(rule), record(route))
      app.use('/raw', guard(rule), record(route))
    })
    const ok = await t.send('/parsed', JSON.stringify({ title: 't' }))
    expect(ok.status).toBe(200)
    const owner = await t.send('/parsed', JSON.stringify({ ownerId: 'x' }))
    expect(owner.status).toBe(403)
    const raw = await t.send('/raw', JSON.stringify({ title: 't' }))
    expect(raw.status).toBe(415)
    expect(raw.json()).toMatchObject({ code: 'PCL_BODY_UNREADABLE' })
    expect(t.route.runs).toBe(1)
  })

  it('qs nested form fields are checked by path', async () => {
    const t = await setup((app, guard, route) => {
      app.use(express.urlencoded({ extended: true }))
      app.post(
        '/b',
        guard({ scopes: ['videos:write'], body: { writable: ['chapters[].title'] } }),
        record(route),
      )
    })
    const form = { type: 'application/x-www-form-urlencoded' }
    const ok = await t.send('/b', 'chapters[0][title]=a&chapters[1][title]=b', form)
    expect(ok.status).toBe(200)
    expect(t.route.seen).toEqual({ chapters: [{ title: 'a' }, { title: 'b' }] })
    const bad = await t.send('/b', 'chapters[0][title]=a&chapters[0][internal]=x', form)
    expect(bad.status).toBe(400)
    expect(bad.json()).toMatchObject({ code: 'PCL_UNKNOWN_FIELD' })
    expect(bad.json().detail).toContain('chapters[].internal')
  })
})

describe('maxBytes', () => {
  function chunked(text: string): ReadableStream<Uint8Array> {
    return Readable.toWeb(
      Readable.from([Buffer.from(text.slice(0, 10)), Buffer.from(text.slice(10))]),
    ) as ReadableStream<Uint8Array>
  }

  it('refuses a chunked body over maxBytes once counted, parsed before or after the guard', async () => {
    const t = await setup((app, guard, route) => {
      const limited = guard({ ...rule, body: { ...rule.body, maxBytes: 64 } })
      app.post('/after', limited, express.json(), record(route))
      app.use('/before', express.json())
      app.post('/before', limited, record(route))
    })
    for (const url of ['/after', '/before']) {
      const small = await t.send(url, chunked(JSON.stringify({ title: 'small' })))
      expect(small.status, url).toBe(200)
      const large = await t.send(url, chunked(JSON.stringify({ title: 'x'.repeat(100) })))
      expect(large.status, url).toBe(413)
      expect(large.json()).toMatchObject({ code: 'PCL_BODY_TOO_LARGE' })
    }
    expect(t.route.runs).toBe(2)
    // Parsed after the guard, the bytes received are counted: padding counts. Parsed before it,
    // a chunked body is measured by its JSON size, which padding does not reach.
    const padded = `{"title":"small"${' '.repeat(100)}}`
    expect((await t.send('/after', chunked(padded))).status).toBe(413)
    expect((await t.send('/before', chunked(padded))).status).toBe(200)
  })
})

describe('the inventory and requireBody', () => {
  function routes(app: Express, guard: GuardedExpress['guard']): void {
    app.use(express.json())
    app.post('/v1/videos', guard(rule), (_req, res) => res.json({}))
    app.put('/v1/videos/:id', guard({ authenticated: true }), (_req, res) => res.json({}))
    app.route('/v1/any').all(guard({ authenticated: true }), (_req, res) => res.json({}))
    app.post(
      '/v1/uploads',
      guard({ authenticated: true, body: { passthrough: 'file upload' } }),
      (_req, res) => res.json({}),
    )
    app.get('/v1/videos', guard({ authenticated: true }), (_req, res) => res.json([]))
  }

  it('guard.routes() flags every route that accepts a body without guard.body', async () => {
    const t = await setup((app, guard) => routes(app, guard))
    const body = Object.fromEntries(t.guard.routes().map((r) => [`${r.method} ${r.url}`, r.body]))
    expect(body).toEqual({
      'GET /v1/videos': null,
      'HEAD /v1/videos': null,
      'POST /v1/videos': '2 fields (+1 by scope); reject',
      'PUT /v1/videos/:id': 'NONE: request bodies are not allowlisted',
      'ALL /v1/any': 'NONE: request bodies are not allowlisted',
      'POST /v1/uploads': 'passthrough: file upload',
    })
  })

  it('requireBody: true makes seal throw, naming every such route at once', async () => {
    const err = await guardedExpress(routes, { portcullis: { requireBody: true } }).then(
      () => null,
      (e: unknown) => e as Error & { routes?: string[] },
    )
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err!.message).toContain('PUT /v1/videos/:id: guard.body is required')
    expect(err!.message).toContain('ALL /v1/any: guard.body is required')
    expect(err!.routes).toEqual(['PUT /v1/videos/:id', 'ALL /v1/any'])
  })

  it('an invalid guard.body throws where guard(...) is called, naming the field', async () => {
    await setup((_app, guard) => {
      const err = thrown(() => guard({ authenticated: true, body: { writable: ['a..b'] } }))
      expect(err).toMatchObject({ code: 'PCL_INVALID_GUARD', field: 'guard.body.writable[0]' })
      expect(err.message).toMatch(/^guard\(\) at .*body\.test\.ts/)
    })
  })
})
