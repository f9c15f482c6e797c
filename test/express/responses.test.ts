import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { isPortcullisError, type RouteGuard } from '@portcullis/express'
import { bearer } from '@portcullis/testing'
import type { ErrorRequestHandler, Express, RequestHandler } from 'express'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { expectResponse, fetched } from '../cases/checks.js'
import { allow, ownedList, ownedSpec, projected, responseCases, row } from '../cases/responses.js'
import { guardedExpress, thrown, type GuardedExpress, type Reply } from './helpers.js'

let current: GuardedExpress | undefined
afterEach(async () => {
  await current?.close()
  current = undefined
})

type Guarded = (response: unknown) => RequestHandler

async function setup(routes: (app: Express, guarded: Guarded) => void) {
  current = await guardedExpress(
    (app, guard) =>
      routes(app, (response) => guard({ authenticated: true, response } as RouteGuard)),
    { portcullis: { response: { requireResponse: true } } },
  )
  const h = current
  return {
    ...h,
    async get(
      url: string,
      claims: Record<string, unknown> | null = { sub: 'user-1' },
      method = 'GET',
    ) {
      const headers = claims === null ? {} : bearer(await h.issuer.token(claims))
      return h.request(url, { method, headers })
    },
  }
}

function refused(res: Reply, code = 'PCL_RESPONSE_REJECTED'): void {
  expect(res.status).toBe(500)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  expect(res.json()).toMatchObject({ code })
  expect(res.body).not.toContain('10.0.0.7')
}

// The response cases of the Fastify suite (test/cases/responses.ts), against the Express adapter.
describe('the shared response cases', () => {
  it.each(responseCases)('$name', async ({ guard, body, status = 200, requests }) => {
    current = await guardedExpress((app, g) => {
      app.get('/r', g(guard), (_req, res) => {
        res.status(status).json(body)
      })
    })
    for (const r of requests) {
      const headers = r.claims === null ? {} : bearer(await current.issuer.token(r.claims))
      expectResponse(fetched(await current.request('/r', { headers })), r, current.events.at(-1))
    }
  })
})

describe('res.json and res.send: objects, strings and Buffers are projected', () => {
  it('guard.response.owner on res.send with a JSON string or Buffer, and res.end', async () => {
    const t = await setup((app, guarded) => {
      app.get('/string', guarded(ownedSpec), (_req, res) =>
        res.type('application/json').send(ownedList),
      )
      app.get('/buffer', guarded(ownedSpec), (_req, res) =>
        res.type('application/json').send(Buffer.from(ownedList)),
      )
      app.get('/end', guarded(ownedSpec), (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(ownedList)
      })
    })
    for (const url of ['/string', '/buffer', '/end']) {
      const res = await t.get(url)
      expect(res.json(), url).toEqual({ items: [{ id: 1, ownerId: 'user-1' }] })
      expect(res.body).not.toContain('user-2')
      expect(t.events.at(-1)).toMatchObject({ reason: 'PCL_NOT_OWNED', notOwned: 1, route: url })
    }
  })

  it('res.send with an object, a JSON string or a JSON Buffer', async () => {
    const t = await setup((app, guarded) => {
      app.get('/object', guarded({ allow }), (_req, res) => res.send(row))
      app.get('/string', guarded({ allow }), (_req, res) =>
        res.type('application/json').send(JSON.stringify(row)),
      )
      app.get('/buffer', guarded({ allow }), (_req, res) =>
        res.type('application/json; charset=utf-8').send(Buffer.from(JSON.stringify(row))),
      )
      app.get('/problem', guarded({ allow }), (_req, res) =>
        res
          .status(404)
          .type('application/problem+json')
          .send(JSON.stringify({ status: 404, row })),
      )
    })
    for (const url of ['/object', '/string', '/buffer']) {
      const res = await t.get(url)
      expect(res.status, url).toBe(200)
      expect(res.json()).toEqual(projected)
      expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(res.body))
    }
    expect((await t.get('/problem')).json()).toEqual({ status: 404 })
  })

  it('a string that is not JSON is refused: plain text, HTML, JSONP with a callback', async () => {
    const t = await setup((app, guarded) => {
      app.get('/text', guarded({ allow }), (_req, res) => res.send('plain string 10.0.0.7'))
      app.get('/html', guarded({ allow }), (_req, res) => res.type('html').send('<b>10.0.0.7</b>'))
      app.get('/jsonp', guarded({ allow }), (_req, res) => res.jsonp(row))
      app.get('/broken', guarded({ allow }), (_req, res) => res.type('json').send('{"uploadIp":'))
    })
    refused(await t.get('/text'))
    refused(await t.get('/html'))
    refused(await t.get('/jsonp?callback=leak'))
    refused(await t.get('/broken'))
    // JSONP without a callback is plain JSON, and projected.
    expect((await t.get('/jsonp')).json()).toEqual(projected)
    expect(t.events.filter((e) => e.reason === 'PCL_RESPONSE_REJECTED')).toHaveLength(4)
  })

  it('a body above maxBodyBytes is refused', async () => {
    current = await guardedExpress(
      (app, guard) => {
        app.get('/big', guard({ authenticated: true, response: { allow: ['id'] } }), (_req, res) =>
          res.type('json').send(JSON.stringify({ id: 1, pad: 'x'.repeat(2048) })),
        )
      },
      { portcullis: { response: { requireResponse: true, maxBodyBytes: 1024 } } },
    )
    const token = await current.issuer.token({ sub: 'u' })
    refused(await current.request('/big', { headers: bearer(token) }))
  })

  it('HEAD gets the headers of the projected body, and no body', async () => {
    const t = await setup((app, guarded) => {
      app.get('/v', guarded({ allow }), (_req, res) => res.json(row))
    })
    const head = await t.get('/v', { sub: 'u' }, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.body).toBe('')
    expect(Number(head.headers.get('content-length'))).toBe(JSON.stringify(projected).length)
  })
})

describe('res.end, res.write and res.writeHead: covered or refused', () => {
  it('res.end with a JSON body is covered, after res.writeHead or res.flushHeaders too', async () => {
    const t = await setup((app, guarded) => {
      app.get('/end', guarded({ allow }), (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.setHeader('content-length', Buffer.byteLength(JSON.stringify(row)))
        res.end(JSON.stringify(row))
      })
      app.get('/head', guarded({ allow }), (_req, res) => {
        res.writeHead(200, 'Fine', { 'content-type': 'application/json', 'x-kept': 'yes' })
        res.end(Buffer.from(JSON.stringify(row)), () => undefined)
      })
      app.get('/flushed', guarded({ allow }), (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.flushHeaders()
        res.end(JSON.stringify(row))
      })
    })
    for (const url of ['/end', '/head', '/flushed']) {
      const res = await t.get(url)
      expect(res.status, url).toBe(200)
      expect(res.json()).toEqual(projected)
    }
    expect((await t.get('/head')).headers.get('x-kept')).toBe('yes')
  })

  it('res.writeHead with an error status: the refusal can still change it', async () => {
    const t = await setup((app, guarded) => {
      app.get('/v', guarded({ allow }), (_req, res) => {
        res.writeHead(404, { 'content-type': 'text/plain' })
        res.end('no such video 10.0.0.7')
      })
    })
    refused(await t.get('/v'))
  })

  it('res.write, pipes and res.sendFile are refused (the guard never sees the whole body)', async () => {
    const file = join(tmpdir(), `portcullis-express-${process.pid}.json`)
    await writeFile(file, JSON.stringify(row))
    const t = await setup((app, guarded) => {
      app.get('/write', guarded({ allow }), (_req, res) => {
        res.type('json')
        res.write('{"uploadIp":"10.0.0.7",')
        res.write('"id":"7"}')
        res.end()
      })
      app.get('/pipe', guarded({ allow }), (_req, res) => {
        res.type('json')
        Readable.from([JSON.stringify(row)]).pipe(res)
      })
      app.get('/file', guarded({ allow }), (_req, res) => res.sendFile(file))
    })
    for (const url of ['/write', '/pipe', '/file']) refused(await t.get(url))
    const events = t.events.filter((e) => e.reason === 'PCL_RESPONSE_REJECTED')
    expect(events.map((e) => e.route)).toEqual(['/write', '/pipe', '/file'])
  })

  it("HEAD on a file route is refused as GET is: not the file's size, type and dates", async () => {
    const file = join(tmpdir(), `portcullis-express-head-${process.pid}.json`)
    await writeFile(file, JSON.stringify(row))
    const t = await setup((app, guarded) => {
      app.get('/file', guarded({ allow }), (_req, res) => res.sendFile(file))
      app.get('/download', guarded({ allow }), (_req, res) => res.download(file))
    })
    for (const url of ['/file', '/download']) {
      const res = await t.get(url, undefined, 'HEAD')
      expect(res.status).toBe(500)
      expect(res.headers.get('last-modified')).toBeNull()
      expect(res.headers.get('etag')).toBeNull()
      expect(res.headers.get('content-disposition')).toBeNull()
      refused(await t.get(url))
    }
  })

  it('a stream, a generator or an async generator as res.json or res.send: 500, released unread', async () => {
    const streams: Readable[] = []
    const released: string[] = []
    function* rows() {
      try {
        yield row
      } finally {
        released.push('generator')
      }
    }
    async function* later() {
      try {
        yield row
      } finally {
        released.push('async generator')
      }
    }
    const stream = () => {
      const made = Readable.from([JSON.stringify(row)])
      streams.push(made)
      return made
    }
    const t = await setup((app, guarded) => {
      app.get('/json-stream', guarded({ allow }), (_req, res) => res.json(stream()))
      app.get('/send-stream', guarded({ allow }), (_req, res) => res.send(stream()))
      app.get('/generator', guarded({ allow }), (_req, res) => {
        const body = rows()
        body.next()
        res.json(body)
      })
      app.get('/async', guarded({ allow }), async (_req, res) => {
        const body = later()
        await body.next()
        res.send(body)
      })
    })
    for (const url of ['/json-stream', '/send-stream', '/generator', '/async']) {
      refused(await t.get(url))
    }
    expect(streams.map((s) => s.destroyed)).toEqual([true, true])
    await vi.waitFor(() => expect(released.sort()).toEqual(['async generator', 'generator']))
  })

  it('a passthrough route streams success bodies; its error bodies are still held', async () => {
    const t = await setup((app, guarded) => {
      const passthrough = guarded({ passthrough: 'video file download' })
      app.get('/download', passthrough, (_req, res) => {
        res.type('video/mp4')
        res.write('binary')
        res.end('!')
      })
      app.get('/failed', passthrough, (_req, res) => {
        res.status(500).type('text/plain')
        res.write('stack trace')
        res.end()
      })
    })
    const ok = await t.get('/download')
    expect(ok.status).toBe(200)
    expect(ok.body).toBe('binary!')
    refused(await t.get('/failed'))
    expect(t.guard.routes().find((r) => r.url === '/download')?.response).toBe(
      'passthrough: video file download',
    )
  })

  it('res.redirect and res.sendStatus send what Express writes', async () => {
    const t = await setup((app, guarded) => {
      app.get('/moved', guarded({ allow }), (_req, res) => res.redirect(301, '/v2/videos/7'))
      app.get('/gone', guarded({ allow }), (_req, res) => res.sendStatus(410))
      app.get('/empty', guarded({ allow }), (_req, res) => res.status(204).end())
    })
    const moved = await t.get('/moved')
    expect(moved.status).toBe(301)
    expect(moved.headers.get('location')).toBe('/v2/videos/7')
    expect((await t.get('/gone')).status).toBe(410)
    expect((await t.get('/empty')).status).toBe(204)
  })
})

describe('errors leave as problem+json only', () => {
  it("the app's own error handler cannot leak a stack through an allowlisted route", async () => {
    const t = await setup((app, guarded) => {
      app.get('/boom', guarded({ allow }), () => {
        throw new Error('db password=hunter2')
      })
      app.use(((err: Error, _req, res, _next) => {
        res.status(500).json({ title: 'Oops', status: 500, stack: err.stack, secret: 'hunter2' })
      }) as ErrorRequestHandler)
    })
    const res = await t.get('/boom')
    expect(res.status).toBe(500)
    expect(res.json()).toEqual({ title: 'Oops', status: 500 })
  })
})

describe('deny by default for responses', () => {
  it('a guard without response is refused by guard(...), naming the field', async () => {
    current = await guardedExpress(() => undefined, {
      seal: false,
      portcullis: { response: { requireResponse: true } },
    })
    const err = thrown(() => current!.guard({ authenticated: true }))
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe('guard.response')
    expect(err.message).toMatch(
      /^guard\(\) at test\/express\/responses\.test\.ts:\d+:\d+: guard\.response is required/,
    )
  })

  it.each([
    ['bad path syntax', { allow: ['a..b'] }, 'guard.response.allow[0]'],
    ["'schema' (Express routes have no response schema)", 'schema', 'guard.response'],
  ])('an invalid allowlist is refused: %s', async (_name, response, field) => {
    current = await guardedExpress(() => undefined, { seal: false })
    const err = thrown(() => current!.guard({ authenticated: true, response } as RouteGuard))
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe(field)
  })

  it('requireResponse: false serves success bodies as they are and flags the route', async () => {
    current = await guardedExpress((app, guard) => {
      app.get('/v', guard({ authenticated: true }), (_req, res) => res.json(row))
    })
    const token = await current.issuer.token({ sub: 'u' })
    expect((await current.request('/v', { headers: bearer(token) })).json()).toEqual(row)
    expect(current.guard.routes()[0]?.response).toBe('NONE: success bodies are not allowlisted')
  })
})
