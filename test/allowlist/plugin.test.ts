import { Readable } from 'node:stream'
import { isPortcullisError } from '@portcullis/fastify'
import { bearer } from '@portcullis/testing'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { expectResponse, injected } from '../cases/checks.js'
import {
  allow,
  ownedList,
  ownedSpec,
  projected as expected,
  responseCases,
  row,
} from '../cases/responses.js'
import { guardedApp, readyError, type GuardedApp } from '../helpers.js'

let current: GuardedApp | undefined
afterEach(async () => {
  await current?.app.close().catch(() => undefined)
  current = undefined
})

async function setup(routes: (app: FastifyInstance) => void, requireResponse = true) {
  current = await guardedApp(routes, { portcullis: { response: { requireResponse } } })
  const { app, issuer, events } = current
  return {
    app,
    events,
    async get(url: string, claims: Record<string, unknown> | null = { sub: 'user-1' }) {
      const headers = claims === null ? {} : bearer(await issuer.token(claims))
      return app.inject({ url, headers })
    },
  }
}

const guard = (response: unknown, extra: Record<string, unknown> = {}) => ({
  config: { guard: { authenticated: true as const, response: response as never, ...extra } },
})

// The response cases shared with the Express adapter's suite (test/cases/responses.ts).
describe('the shared response cases', () => {
  it.each(responseCases)('$name', async ({ guard, body, status = 200, requests }) => {
    const t = await setup((app) => {
      app.get('/r', { config: { guard } }, (_req, reply) => {
        void reply.code(status)
        return body
      })
    })
    for (const r of requests) {
      expectResponse(injected(await t.get('/r', r.claims)), r, t.events.at(-1))
    }
  })
})

describe('every path out is projected', () => {
  it('objects sent with reply.send', async () => {
    const t = await setup((app) => {
      app.get('/sent', guard({ allow }), (_req, reply) => reply.send(row))
    })
    expect((await t.get('/sent')).json()).toEqual(expected)
  })

  it('guard.response.owner on a JSON string and a Buffer: the serialized body is filtered too', async () => {
    const t = await setup((app) => {
      app.get('/string', guard(ownedSpec), (_req, reply) =>
        reply.type('application/json').send(ownedList),
      )
      app.get('/buffer', guard(ownedSpec), (_req, reply) =>
        reply.type('application/json').send(Buffer.from(ownedList)),
      )
    })
    for (const url of ['/string', '/buffer']) {
      const res = await t.get(url)
      expect(res.json(), url).toEqual({ items: [{ id: 1, ownerId: 'user-1' }] })
      expect(res.body).not.toContain('user-2')
      expect(t.events.at(-1)).toMatchObject({ reason: 'PCL_NOT_OWNED', notOwned: 1, route: url })
    }
  })

  it('JSON strings and Buffers sent as they are', async () => {
    const t = await setup((app) => {
      app.get('/string', guard({ allow }), (_req, reply) =>
        reply.type('application/json').send(JSON.stringify(row)),
      )
      app.get('/buffer', guard({ allow }), (_req, reply) =>
        reply.type('application/json; charset=utf-8').send(Buffer.from(JSON.stringify(row))),
      )
    })
    for (const url of ['/string', '/buffer']) {
      const res = await t.get(url)
      expect(res.statusCode, url).toBe(200)
      expect(res.json()).toEqual(expected)
      expect(res.body).not.toContain('10.0.0.7')
    }
  })

  it("a JSON string refused in mode 'reject' has its undeclared paths audited, not its values", async () => {
    const t = await setup((app) => {
      app.get('/string', guard({ allow, mode: 'reject' }), (_req, reply) =>
        reply.type('application/json').send(JSON.stringify(row)),
      )
    })
    const res = await t.get('/string')
    expect(res.statusCode).toBe(500)
    const event = t.events.at(-1)!
    expect(event).toMatchObject({ decision: 'deny', reason: 'PCL_RESPONSE_REJECTED' })
    expect([...event.undeclaredFields!].sort()).toEqual([
      'moderation',
      'owner.email',
      'storagePath',
      'uploadIp',
    ])
    expect(JSON.stringify(event)).not.toContain('10.0.0.7')
  })

  it('a custom reply.serializer sees the projected value', async () => {
    const t = await setup((app) => {
      app.get('/ser', guard({ allow }), (_req, reply) =>
        reply.serializer((v) => `${JSON.stringify(v)}\n`).send(row),
      )
    })
    expect(JSON.parse((await t.get('/ser')).body)).toEqual(expected)
  })

  it("error bodies from the app's error handler keep only problem+json fields", async () => {
    const t = await setup((app) => {
      app.setErrorHandler((err: Error, _req, reply) =>
        reply.code(500).send({ title: 'Oops', status: 500, stack: err.stack, secret: 'hunter2' }),
      )
      app.get('/boom', guard({ allow }), () => {
        throw new Error('db password=hunter2')
      })
    })
    const res = await t.get('/boom')
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({ title: 'Oops', status: 500 })
  })

  it("Fastify's own errors are reduced too", async () => {
    const t = await setup((app) => {
      app.post('/p', guard({ allow }), () => row)
    })
    const token = await current!.issuer.token({ sub: 'u' })
    const res = await t.app.inject({
      method: 'POST',
      url: '/p',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: '{not json',
    })
    expect(res.statusCode).toBe(400)
    expect(
      Object.keys(res.json<object>()).every((k) =>
        ['type', 'title', 'status', 'code', 'detail', 'instance'].includes(k),
      ),
    ).toBe(true)
  })
})

describe('what the guard cannot inspect is refused', () => {
  it('a stream: 500 with an audit event, unless the route declares passthrough', async () => {
    const t = await setup((app) => {
      app.get('/stream', guard({ allow }), (_req, reply) =>
        reply.type('application/json').send(Readable.from([JSON.stringify(row)])),
      )
      app.get('/file', guard({ passthrough: 'video file download' }), (_req, reply) =>
        reply.type('video/mp4').send(Readable.from([Buffer.from('binary')])),
      )
    })
    const refused = await t.get('/stream')
    expect(refused.statusCode).toBe(500)
    expect(refused.json()).toMatchObject({ code: 'PCL_RESPONSE_REJECTED' })
    expect(refused.body).not.toContain('10.0.0.7')
    expect(
      t.events.some((e) => e.reason === 'PCL_RESPONSE_REJECTED' && e.route === '/stream'),
    ).toBe(true)
    const allowed = await t.get('/file')
    expect(allowed.statusCode).toBe(200)
    expect(allowed.body).toBe('binary')
    expect(t.app.portcullis.routes().find((r) => r.url === '/file')?.response).toBe(
      'passthrough: video file download',
    )
  })

  it('a stream, a generator or an async generator: 500, and the body released unread', async () => {
    const stream = Readable.from([JSON.stringify(row)])
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
    const t = await setup((app) => {
      app.get('/stream', guard({ allow }), (_req, reply) =>
        reply.type('application/json').send(stream),
      )
      app.get('/generator', guard({ allow }), () => {
        const body = rows()
        body.next()
        return body
      })
      app.get('/async', guard({ allow }), async (_req, reply) => {
        const body = later()
        await body.next()
        return reply.send(body)
      })
    })
    for (const url of ['/stream', '/generator', '/async']) {
      const res = await t.get(url)
      expect(res.statusCode, url).toBe(500)
      expect(res.json(), url).toMatchObject({ code: 'PCL_RESPONSE_REJECTED' })
      expect(res.body).not.toContain('10.0.0.7')
    }
    expect(stream.destroyed).toBe(true)
    await vi.waitFor(() => expect(released.sort()).toEqual(['async generator', 'generator']))
  })

  it('a web ReadableStream: 500, and the stream cancelled unread', async () => {
    let cancelled = false
    const t = await setup((app) => {
      app.get('/web', guard({ allow }), (_req, reply) =>
        reply.type('application/json').send(
          new ReadableStream<string>({
            pull(controller) {
              controller.enqueue(JSON.stringify(row))
            },
            cancel() {
              cancelled = true
            },
          }),
        ),
      )
    })
    const res = await t.get('/web')
    expect(res.statusCode).toBe(500)
    expect(res.json()).toMatchObject({ code: 'PCL_RESPONSE_REJECTED' })
    expect(res.body).not.toContain('10.0.0.7')
    await vi.waitFor(() => expect(cancelled).toBe(true))
  })

  it('non-JSON content and bodies above maxBodyBytes', async () => {
    const t = await setup((app) => {
      app.get('/html', guard({ allow }), (_req, reply) =>
        reply.type('text/html').send('<b>row</b>'),
      )
      app.get('/text', guard({ allow }), () => 'plain string')
    })
    expect((await t.get('/html')).statusCode).toBe(500)
    expect((await t.get('/text')).statusCode).toBe(500)
  })
})

describe('deny by default for responses', () => {
  it('a guarded route without guard.response fails startup', async () => {
    await setup((app) => {
      app.get('/v', { config: { guard: { authenticated: true } } }, () => row)
    })
    const err = await readyError(current!.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.field).toBe('guard.response')
    expect(err.message).toContain('GET /v')
  })

  it('requireResponse: false serves success bodies as they are and flags the route', async () => {
    const t = await setup((app) => {
      app.get('/v', { config: { guard: { authenticated: true } } }, () => row)
    }, false)
    expect((await t.get('/v')).json()).toEqual(row)
    expect(t.app.portcullis.routes()[0]?.response).toBe('NONE: success bodies are not allowlisted')
  })

  it.each([
    ['bad path syntax', { allow: ['a..b'] }, /guard\.response\.allow\[0\]/],
    ['schema without a response schema', 'schema', /guard\.response/],
  ])('an invalid allowlist fails startup: %s', async (_name, response, message) => {
    await setup((app) => {
      app.get('/v', guard(response), () => row)
    })
    const err = await readyError(current!.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.message).toMatch(message)
    expect(err.message).toContain('GET /v')
  })

  it("an allowed path the route's response schema lacks fails startup, with the closest one", async () => {
    await setup((app) => {
      app.get(
        '/v',
        {
          ...guard({ allow: ['id', 'titel'] }),
          schema: {
            response: {
              200: {
                type: 'object',
                properties: { id: { type: 'string' }, title: { type: 'string' } },
              },
            },
          },
        },
        () => row,
      )
    })
    const err = await readyError(current!.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.route).toBe('GET /v')
    expect(err.field).toBe('guard.response.allow[1]')
    expect(err.message).toMatch(
      /GET \/v: guard\.response\.allow\[1\] 'titel' is not in the route's response schema \(schema\.response\.200\): did you mean 'title'\?/,
    )
  })

  it('a byScope for a scope the application never grants fails startup (knownScopes)', async () => {
    current = await guardedApp(
      (app) => {
        app.get('/v', guard({ allow, byScope: { 'videos:internl': ['uploadIp'] } }), () => row)
      },
      { portcullis: { knownScopes: ['videos:read', 'videos:internal'] } },
    )
    const err = await readyError(current.app)
    expect(isPortcullisError(err, 'PCL_INVALID_GUARD')).toBe(true)
    expect(err.message).toContain('GET /v')
    expect(err.message).toContain('videos:internl')
  })

  it("'schema' reuses the route's response schema", async () => {
    const t = await setup((app) => {
      app.get(
        '/s',
        {
          ...guard('schema'),
          schema: {
            response: {
              200: {
                type: 'object',
                properties: { id: { type: 'string' }, title: { type: 'string' } },
              },
            },
          },
        },
        () => row,
      )
    })
    expect((await t.get('/s')).json()).toEqual({ id: '7', title: 'river night' })
  })
})
