import {
  createServer,
  request as httpRequest,
  IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { Socket, type AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import { isPortcullisError, type GuardRequest } from '@portcullis/core'
import { andThen, runSteps, settle } from '@portcullis/core/internal'
import { createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { admitBody } from './body.js'
import { consoleLogger } from './logger.js'
import { NO_RULES, planRoute, type BoundRoute, type RoutePlan } from './route.js'
import { createGuardRuntime, type GuardRuntime } from './runtime.js'
import { sealError } from './seal-error.js'
import { NodeView, nodeViews } from './view.js'

// The runtime alone, under Node's own HTTP server: no framework anywhere in the request flow.

class PlainView extends NodeView {
  get native(): GuardRequest {
    return Object.assign(this.message, { params: {}, query: {} }) as unknown as GuardRequest
  }
}

const views = nodeViews((m, r, log, rules, route) => new PlainView(m, r, log, rules, route))

let issuer: TestIssuer
let runtime: GuardRuntime
let plan: RoutePlan
let route: BoundRoute
let server: Server
let base: string

function get(path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; type: string | undefined }>(
    (resolve, reject) => {
      httpRequest(`${base}${path}`, { headers }, (res: IncomingMessage) => {
        let body = ''
        res.on('data', (chunk: Buffer) => (body += chunk.toString()))
        res.on('end', () =>
          resolve({ status: res.statusCode!, body, type: res.headers['content-type'] }),
        )
      })
        .on('error', reject)
        .end()
    },
  )
}

beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
  runtime = createGuardRuntime({
    tokens: {
      issuers: [
        {
          issuer: issuer.issuer,
          audience: issuer.audience,
          algorithms: ['ES256'],
          typ: 'at+jwt',
          jwks: issuer.jwks,
        },
      ],
    },
    logger: { info() {}, warn() {}, error() {} },
  })
  plan = planRoute({ scopes: ['videos:read'], response: { allow: ['id'] } }, 'GET /videos', runtime)
  route = plan.bind({ label: 'GET /videos', template: '/videos', methods: ['GET'], params: [] })
  server = createServer((req, res) => {
    const known = req.url === '/videos'
    const view = views.viewOf(
      req,
      res,
      runtime.log,
      known ? plan.credentials : NO_RULES,
      known ? route.route : null,
    )
    const answer = known
      ? andThen(runtime.authenticate(view), () => runSteps(route.steps, view))
      : runtime.unknownRoute(view)
    settle(
      answer,
      () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"v1"}'),
      (problem) => views.answerProblem(res, problem),
      (err) => views.answerProblem(res, runtime.error(err)),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  await runtime.close()
})

describe('the runtime under node:http', () => {
  it('lets a token with the scope through', async () => {
    const token = await issuer.token({ scope: 'videos:read' })
    const reply = await get('/videos', { authorization: `Bearer ${token}` })
    expect(reply.status).toBe(200)
  })

  it('refuses a token without the scope with the same problem as the adapters', async () => {
    const token = await issuer.token({ scope: 'videos:list' })
    const reply = await get('/videos', { authorization: `Bearer ${token}` })
    expect(reply.status).toBe(403)
    expect(reply.type).toBe('application/problem+json')
    expect(JSON.parse(reply.body)).toMatchObject({ code: 'PCL_INSUFFICIENT_SCOPE' })
  })

  it('refuses a token signed by another key, and an anonymous request', async () => {
    const forged = await issuer.bad.wrongKey({ scope: 'videos:read' })
    const reply = await get('/videos', { authorization: `Bearer ${forged}` })
    expect(reply.status).toBe(401)
    expect(JSON.parse(reply.body)).toMatchObject({ code: 'PCL_TOKEN_INVALID' })
    expect((await get('/videos')).status).toBe(401)
  })

  it('answers an unknown URL 401 to anonymous callers, 404 to others', async () => {
    expect((await get('/admin')).status).toBe(401)
    const token = await issuer.token({ scope: 'videos:read' })
    expect((await get('/admin', { authorization: `Bearer ${token}` })).status).toBe(404)
  })
})

describe('planRoute', () => {
  it('names every problem of one guard in one error, at the place it was declared', () => {
    let thrown: unknown
    try {
      planRoute(
        { scopes: ['a'], rateLimit: { max: 1, timeWindow: '1 minute' }, response: { allow: 1 } },
        'guard() at src/app.ts:3:1',
        runtime,
      )
    } catch (err) {
      thrown = err
    }
    expect(isPortcullisError(thrown, 'PCL_INVALID_GUARD')).toBe(true)
    const error = thrown as Error & { errors: Error[] }
    expect(error.errors).toHaveLength(2)
    expect(error.message).toMatch(/guard\.rateLimit needs a rate limiter/u)
    expect(error.message).toMatch(/response/u)
  })

  it('names the field of a single problem, and where the guard was declared, not a route', () => {
    const label = 'guard() at src/app.ts:9:3'
    const errorOf = (guard: object) => {
      try {
        planRoute({ scopes: ['a'], response: { allow: ['id'] }, ...guard }, label, runtime)
      } catch (err) {
        return err as Error & { field?: string; route?: string; errors: Error[]; cause?: unknown }
      }
      throw new Error('expected a throw')
    }
    const limited = errorOf({ rateLimit: { max: 1, timeWindow: '1 minute' } })
    expect(limited).toMatchObject({ code: 'PCL_INVALID_GUARD', field: 'guard.rateLimit' })
    expect(limited.message).toBe(
      `${label}: guard.rateLimit needs a rate limiter: add the rateLimit option to createGuard (e.g. rateLimit: { max: 600, timeWindow: '1 minute' }: the default limit of every route and its store, which guard.rateLimit replaces on this one)`,
    )
    // One problem is the error itself, not a list of one.
    expect(limited.errors).toEqual([])
    // The label is a place in the source, which tools must not read as a route.
    expect(limited.route).toBeUndefined()
    expect(isPortcullisError(limited.cause, 'PCL_INVALID_GUARD')).toBe(true)
    for (const [guard, field] of [
      [{ enumeration: { max: 10, timeWindow: '1 minute' } }, 'guard.enumeration'],
      [{ budget: { maxItems: 100, timeWindow: '1 hour' } }, 'guard.budget'],
      [
        {
          budget: { maxItems: 100, timeWindow: '1 hour' },
          enumeration: { max: 10, timeWindow: '1 minute' },
        },
        'guard.budget',
      ],
    ] as const) {
      const egress = errorOf(guard)
      expect(egress).toMatchObject({ code: 'PCL_INVALID_GUARD', field })
      expect(egress.message).toBe(
        `${label}: ${field} needs a store: add the rateLimit option to createGuard (e.g. rateLimit: { max: 600, timeWindow: '1 minute' }, with redis to share it between instances)`,
      )
    }
    // Several problems: the first one's field, each of them listed.
    const both = errorOf({ rateLimit: { max: 1, timeWindow: '1 minute' }, response: { allow: 1 } })
    expect(both.field).toBe('guard.rateLimit')
    expect(both.errors.map((e) => (e as Error & { field?: string }).field)).toEqual([
      'guard.rateLimit',
      expect.stringMatching(/^guard\.response/u),
    ])
  })

  it("lets an error of the application's own through as it is", () => {
    const boom = new Error('a getter of the app threw')
    for (const guard of [
      {
        scopes: ['a'],
        get response(): unknown {
          throw boom
        },
      },
      {
        scopes: ['a'],
        rateLimit: { max: 1, timeWindow: '1 minute' },
        response: { allow: ['id'] },
        body: {
          get writable(): unknown {
            throw boom
          },
        },
      },
    ]) {
      expect(() => planRoute(guard, 'guard() at src/app.ts:1:1', runtime)).toThrow(boom)
    }
  })

  it('counts the budget of a public route by address: no other key', () => {
    const limited = createGuardRuntime({
      tokens: {
        issuers: [
          { issuer: issuer.issuer, audience: 'x', algorithms: ['ES256'], jwks: issuer.jwks },
        ],
      },
      rateLimit: { max: 100, timeWindow: '1 minute' },
      logger: { info() {}, warn() {}, error() {} },
    })
    const budget = { unit: 'items', max: 10, timeWindow: '1 hour' }
    const feed = (key?: string) =>
      planRoute(
        {
          public: 'the open feed',
          budget: key === undefined ? budget : { ...budget, key },
          response: { allow: ['id'] },
        },
        'GET /feed',
        limited,
      )
    expect(feed().credentials).toEqual({ queryToken: false, dpop: false })
    expect(feed('ip').credentials).toEqual({ queryToken: false, dpop: false })
    expect(() => feed('principal')).toThrow(
      expect.objectContaining({ code: 'PCL_INVALID_GUARD', field: 'guard.budget.key' }),
    )
  })

  it('refuses a claim bound to a parameter the site does not have, when bound', () => {
    const claimed = planRoute(
      { scopes: ['a'], claims: { tenant: { param: 'tenantId' } }, response: { allow: ['id'] } },
      'here',
      runtime,
    )
    expect(() =>
      claimed.bind({ label: 'GET /x', template: '/x', methods: ['GET'], params: [] }),
    ).toThrow(/tenantId/u)
    expect(
      claimed.bind({
        label: 'GET /t/:tenantId',
        template: '/t/:tenantId',
        methods: ['GET'],
        params: ['tenantId'],
      }).entries,
    ).toHaveLength(1)
  })
})

describe('createGuardRuntime', () => {
  it('refuses bad options with PCL_INVALID_OPTIONS naming the field', () => {
    expect(() => createGuardRuntime({ tokens: { issuers: [] }, rateLimit: { max: -1 } })).toThrow(
      expect.objectContaining({ code: 'PCL_INVALID_OPTIONS' }),
    )
    expect(() => createGuardRuntime({ tokens: {}, logger: { info() {} } })).toThrow(/logger/u)
  })

  it('makes the Redis client of a URL by the time ready() resolves, and ends it on close()', async () => {
    const limited = createGuardRuntime({
      tokens: {
        issuers: [
          { issuer: issuer.issuer, audience: 'x', algorithms: ['ES256'], jwks: issuer.jwks },
        ],
      },
      // Nothing listens there: the client is made and tries to connect, in vain.
      rateLimit: { max: 10, timeWindow: '1 minute', redis: 'redis://127.0.0.1:1' },
      logger: { info() {}, warn() {}, error() {} },
    })
    await limited.ready()
    const client = limited.limits!.store.redisClient() as { status: string } | null
    expect(client).not.toBeNull()
    expect(client!.status).not.toBe('wait')
    // ioredis retries a refused connection after a growing delay (450 ms by now): none after close.
    let retries = 0
    ;(client as unknown as { on: (event: string, fn: () => void) => void }).on(
      'reconnecting',
      () => void retries++,
    )
    await limited.close()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(retries).toBe(0)
  })

  it('refuses options that are not an object, as the Fastify plugin does', () => {
    for (const input of [null, undefined, 'tokens', 1, [], [{ tokens: {} }]]) {
      expect(() => createGuardRuntime(input)).toThrow(
        expect.objectContaining({
          code: 'PCL_INVALID_OPTIONS',
          message: 'portcullis options must be an object',
        }),
      )
    }
  })

  it('refuses a logger without info, warn and error methods, naming it', () => {
    const tokens = {
      issuers: [{ issuer: issuer.issuer, audience: 'x', algorithms: ['ES256'], jwks: issuer.jwks }],
    }
    const full = { info() {}, warn() {}, error() {} }
    expect(() => createGuardRuntime({ tokens, logger: full })).not.toThrow()
    const callable = Object.assign(() => undefined, full)
    for (const logger of [
      null,
      'pino',
      callable,
      { ...full, error: 'x' },
      { ...full, warn: undefined },
    ]) {
      expect(() => createGuardRuntime({ tokens, logger })).toThrow(
        expect.objectContaining({
          code: 'PCL_INVALID_OPTIONS',
          field: 'logger',
          message:
            'portcullis options: logger: must be a pino-style logger with info, warn and error methods',
        }),
      )
    }
  })
})

describe('admitBody', () => {
  const bodyPlan = () =>
    planRoute(
      { scopes: ['a'], response: { allow: ['id'] }, body: { writable: ['title'] } },
      'POST /videos',
      runtime,
    ).bind({ label: 'POST /videos', template: '/videos', methods: ['POST'], params: [] })

  const message = (headers: Record<string, string>) =>
    ({
      headers,
      method: 'POST',
      url: '/videos',
      socket: { remoteAddress: '127.0.0.1' },
      readableLength: 0,
      push: () => true,
    }) as unknown as IncomingMessage

  const viewFor = (msg: IncomingMessage) =>
    new PlainView(msg, { headersSent: false } as never, runtime.log, NO_RULES, '/videos')

  it('checks a body parsed before the guard now', () => {
    const { body } = bodyPlan()
    const msg = message({ 'content-length': '20' })
    const admitted = admitBody(body!, viewFor(msg), msg, { title: 't', owner: 'x' }, false)
    expect(admitted.outcome.kind).toBe('refuse')
    expect(admitted.pending).toBeNull()
  })

  it('holds a body on the wire for the parser, and refuses it to any other handler', () => {
    const { body } = bodyPlan()
    const msg = message({ 'content-length': '20' })
    const admitted = admitBody(body!, viewFor(msg), msg, undefined, true)
    expect(admitted.outcome.kind).toBe('keep')
    const pending = admitted.pending!
    // A parser may read the stream; a handler that is not one may not.
    expect(pending.before(undefined, true).kind).toBe('keep')
    const refused = pending.before(undefined, false)
    expect(refused.kind).toBe('refuse')
    expect(refused.kind === 'refuse' && refused.problem.body.code).toBe('PCL_BODY_UNREADABLE')
  })

  it('counts the bytes of a chunked body: buffered before the guard, then pushed', () => {
    const { body } = planRoute(
      { scopes: ['a'], response: { allow: ['id'] }, body: { writable: ['title'], maxBytes: 16 } },
      'POST /videos',
      runtime,
    ).bind({ label: 'POST /videos', template: '/videos', methods: ['POST'], params: [] })
    const received = (before: Buffer, text: string, after: Buffer) => {
      const msg = new IncomingMessage(new Socket())
      msg.method = 'POST'
      msg.headers = { 'transfer-encoding': 'chunked' }
      msg.push(before)
      const pending = admitBody(body!, viewFor(msg), msg, undefined, true).pending!
      // The request's own push still answers (its backpressure signal reaches Node's parser).
      expect(msg.push(text, 'utf8')).toBe(true)
      expect(msg.push(after)).toBe(true)
      return pending.before({ title: 't' }, true)
    }
    // 6 bytes buffered, 'ééé' is 6 bytes (3 characters), then 4 or 5 more: 16 or 17 in all.
    expect(received(Buffer.alloc(6), 'ééé', Buffer.alloc(4)).kind).toBe('keep')
    const over = received(Buffer.alloc(6), 'ééé', Buffer.alloc(5))
    expect(over.kind === 'refuse' && over.problem.body.code).toBe('PCL_BODY_TOO_LARGE')
  })

  it('counts the bytes of a chunked body for every guard that limits it', () => {
    const limited = (maxBytes: number) =>
      planRoute(
        { scopes: ['a'], response: { allow: ['id'] }, body: { writable: ['title'], maxBytes } },
        'POST /videos',
        runtime,
      ).bind({ label: 'POST /videos', template: '/videos', methods: ['POST'], params: [] }).body!
    const msg = new IncomingMessage(new Socket())
    msg.method = 'POST'
    msg.headers = { 'transfer-encoding': 'chunked' }
    const outer = admitBody(limited(64), viewFor(msg), msg, undefined, true).pending!
    const inner = admitBody(limited(8), viewFor(msg), msg, undefined, true).pending!
    msg.push(Buffer.alloc(16))
    expect(outer.before({ title: 't' }, true).kind).toBe('keep')
    expect(inner.before({ title: 't' }, true).kind).toBe('refuse')
  })

  it('measures a body a handler swapped in for a chunked body parsed before the guard', () => {
    const { body } = planRoute(
      { scopes: ['a'], response: { allow: ['id'] }, body: { writable: ['title'], maxBytes: 32 } },
      'POST /videos',
      runtime,
    ).bind({ label: 'POST /videos', template: '/videos', methods: ['POST'], params: [] })
    const msg = message({ 'transfer-encoding': 'chunked' })
    const admitted = admitBody(body!, viewFor(msg), msg, { title: 't' }, true)
    expect(admitted.outcome.kind).toBe('keep')
    // No bytes are counted for it (it was read before): the new body is measured as JSON.
    const swapped = admitted.pending!.before({ title: 'x'.repeat(64) }, false)
    expect(swapped.kind === 'refuse' && swapped.problem.body.code).toBe('PCL_BODY_TOO_LARGE')
  })

  it('lets a request go on when a handler dropped the body it had checked', () => {
    const { body } = bodyPlan()
    const msg = message({ 'content-length': '20' })
    const pending = admitBody(body!, viewFor(msg), msg, undefined, true).pending!
    expect(pending.before({ title: 't' }, true).kind).toBe('keep')
    // The stream was read by the parser: nothing is left for a later handler to read.
    expect(pending.before(undefined, false).kind).toBe('keep')
  })

  it('reports a body that reaches a handler unparsed under report-only, and goes on', () => {
    const { body } = planRoute(
      { scopes: ['a'], response: { allow: ['id'] }, body: { writable: ['t'] }, reportOnly: true },
      'POST /videos',
      runtime,
    ).bind({ label: 'POST /videos', template: '/videos', methods: ['POST'], params: [] })
    const msg = message({ 'content-length': '20' })
    const pending = admitBody(body!, viewFor(msg), msg, undefined, true).pending!
    expect(pending.before(undefined, false).kind).toBe('keep')
  })

  it('checks the parsed body once, and a body a handler swapped in again', () => {
    const { body } = bodyPlan()
    const msg = message({ 'content-length': '20' })
    const pending = admitBody(body!, viewFor(msg), msg, undefined, true).pending!
    const parsed = { title: 't' }
    expect(pending.before(parsed, true).kind).toBe('keep')
    expect(pending.before(parsed, false).kind).toBe('keep')
    expect(pending.before({ title: 't', admin: true }, false).kind).toBe('refuse')
  })
})

describe('sealError', () => {
  it('is undefined for a clean app and lists each unguarded route once', () => {
    expect(sealError([], [])).toBeUndefined()
    const error = sealError([], ['GET /a', 'GET /a', 'POST /b (express.static)'])!
    expect(isPortcullisError(error, 'PCL_UNGUARDED_ROUTE')).toBe(true)
    expect(error.message).toMatch(/2 routes have no guard/u)
    expect((error as unknown as { routes: string[] }).routes).toEqual(['GET /a', 'POST /b'])
  })

  it('says what to do, naming each route as found, its why kept in the message only', () => {
    const error = sealError([], ['GET /files/(.*) (express.static)'])!
    expect(error.message).toBe(
      [
        '1 route has no guard (deny by default):',
        '  - GET /files/(.*) (express.static)',
        "Put guard({...}) first in each route's handlers (guard({ public: '<reason>' }) for a route that needs no token).",
      ].join('\n'),
    )
    expect((error as unknown as { routes: string[] }).routes).toEqual(['GET /files/(.*)'])
  })
})

describe('NodeView', () => {
  const response = (headersSent: boolean) => {
    const set: [string, unknown][] = []
    const res = {
      headersSent,
      setHeader(name: string, value: unknown) {
        // As Node's: a header after the response started throws.
        if (headersSent) {
          throw Object.assign(new Error('Cannot set headers after they are sent'), {
            code: 'ERR_HTTP_HEADERS_SENT',
          })
        }
        if (value === 'bad') throw Object.assign(new TypeError('bad'), { code: 'ERR_INVALID_CHAR' })
        set.push([name, value])
      },
    } as unknown as ServerResponse
    return { res, set }
  }
  const viewOf = (message: object, res = response(false).res) =>
    new PlainView(message as IncomingMessage, res, runtime.log, NO_RULES, '/videos')

  it("reads the method, the target and the client's address from Node's request", () => {
    const view = viewOf({ method: 'PATCH', url: '/v?x=1', socket: { remoteAddress: '10.0.0.9' } })
    expect([view.method, view.url, view.ip]).toEqual(['PATCH', '/v?x=1', '10.0.0.9'])
  })

  it('reads the request id a request-id middleware set, a string or a number, nothing else', () => {
    expect(viewOf({ id: 'req-7' }).requestId).toBe('req-7')
    expect(viewOf({ id: 42 }).requestId).toBe('42')
    for (const id of [undefined, null, { toString: () => 'x' }, ['a']]) {
      expect(viewOf({ id }).requestId).toBeNull()
    }
  })

  it('sets a header only while the response has not started', () => {
    const open = response(false)
    viewOf({}, open.res).setHeader('ratelimit-limit', 10)
    expect(open.set).toEqual([['ratelimit-limit', 10]])
    // Setting a header on a response whose headers were sent would throw in Node.
    const sent = response(true)
    expect(() => viewOf({}, sent.res).setHeader('ratelimit-limit', 10)).not.toThrow()
    expect(sent.set).toEqual([])
    // Any other refusal of Node's is not swallowed.
    expect(() => viewOf({}, open.res).setHeader('ratelimit-limit', 'bad')).toThrow('bad')
    // HTTP/2's compatibility API says "headers sent" with a code of its own.
    const http2 = {
      setHeader() {
        throw Object.assign(new Error('sent'), { code: 'ERR_HTTP2_HEADERS_SENT' })
      },
    } as unknown as ServerResponse
    expect(() => viewOf({}, http2).setHeader('ratelimit-limit', 10)).not.toThrow()
  })

  it('gives every guard of a request one view, its principal, and the route of each guard', () => {
    const shared = nodeViews((m, r, log, rules, route) => new PlainView(m, r, log, rules, route))
    const message = {} as IncomingMessage
    const res = response(false).res
    expect(shared.principalOf(message)).toBeNull()
    const first = shared.viewOf(message, res, runtime.log, { queryToken: true, dpop: false }, '/a')
    const principal = { sub: 'u' } as never
    first.principal = principal
    const second = shared.viewOf(message, res, runtime.log, NO_RULES, '/a/:id')
    expect(second).toBe(first)
    expect(second.route).toBe('/a/:id')
    // The first guard's credential rules stay: the credentials were read under them.
    expect(second.queryTokenAllowed()).toBe(true)
    expect(shared.principalOf(message)).toBe(principal)
    expect(shared.principalOf({})).toBeNull()
  })

  it('keeps each adapter its own views, on the request without showing the principal', () => {
    const make: Parameters<typeof nodeViews>[0] = (m, r, log, rules, route) =>
      new PlainView(m, r, log, rules, route)
    const one = nodeViews(make)
    const other = nodeViews(make)
    const message = { headers: {} } as IncomingMessage
    const res = response(false).res
    const view = one.viewOf(message, res, runtime.log, NO_RULES, '/a')
    view.principal = { sub: 'user-7', claims: { email: 'secret@example.com' } } as never
    view.authenticated = true
    expect(other.principalOf(message)).toBeNull()
    expect(other.viewOf(message, res, runtime.log, NO_RULES, '/b')).not.toBe(view)
    expect(one.principalOf(message)).toBe(view.principal)
    // Not a string key: serializers that walk a request's keys or JSON do not meet it.
    expect(Object.keys(message)).toEqual(['headers'])
    expect(JSON.stringify(message)).toBe('{"headers":{}}')
    // A request written with util.inspect shows the route, not the claims or the socket.
    const shown = inspect(message, { depth: 4 })
    expect(shown).toContain('PortcullisView { route: "/a", authenticated: true }')
    expect(shown).not.toContain('secret@example.com')
    expect(shown).not.toContain('user-7')
  })

  it("finds a response's view through its request, the last one seen or any other", () => {
    const shared = nodeViews((m, r, log, rules, route) => new PlainView(m, r, log, rules, route))
    const pair = () => {
      const message = {} as IncomingMessage
      const res = { ...response(false).res, req: message } as unknown as ServerResponse
      return { message, res }
    }
    const a = pair()
    const b = pair()
    const unseen = pair()
    expect(shared.viewOfResponse(a.res)).toBeUndefined()
    const viewA = shared.viewOf(a.message, a.res, runtime.log, NO_RULES, '/a')
    expect(shared.viewOfResponse(a.res)).toBe(viewA)
    const viewB = shared.viewOf(b.message, b.res, runtime.log, NO_RULES, '/b')
    expect(shared.viewOfResponse(b.res)).toBe(viewB)
    // Not the last one: found through `res.req`.
    expect(shared.viewOfResponse(a.res)).toBe(viewA)
    expect(shared.viewOfResponse(unseen.res)).toBeUndefined()
    // A response without a request (not Node's): no view.
    expect(shared.viewOfResponse(response(false).res)).toBeUndefined()
  })

  it('gives a copy of a request a view of its own, never the original principal', () => {
    const shared = nodeViews((m, r, log, rules, route) => new PlainView(m, r, log, rules, route))
    const message = { url: '/t/acme' } as IncomingMessage
    const res = response(false).res
    const view = shared.viewOf(message, res, runtime.log, NO_RULES, '/t/:tenant')
    view.principal = { sub: 'user-7' } as never
    view.authenticated = true
    // A spread copies the (enumerable) property; an object made from the request inherits it.
    for (const copy of [{ ...message, url: '/t/other' }, Object.create(message) as object]) {
      expect(shared.principalOf(copy)).toBeNull()
      const fresh = shared.viewOf(copy as IncomingMessage, res, runtime.log, NO_RULES, '/t/:tenant')
      expect(fresh).not.toBe(view)
      expect(fresh.authenticated).toBe(false)
      expect(fresh.principal).toBeNull()
    }
    expect(shared.principalOf(message)).toBe(view.principal)
  })

  it('answers for the last response a guard saw without reading it, and only for its own', () => {
    const shared = nodeViews((m, r, log, rules, route) => new PlainView(m, r, log, rules, route))
    const message = {} as IncomingMessage
    let reads = 0
    const res = Object.defineProperty({ ...response(false).res }, 'req', {
      get: () => (reads++, message),
    }) as ServerResponse
    const view = shared.viewOf(message, res, runtime.log, NO_RULES, '/a')
    expect(shared.viewOfResponse(res)).toBe(view)
    expect(reads).toBe(0)
    // Another response to the same request (the request handed to the app again): not its view.
    const other = { ...response(false).res, req: message } as unknown as ServerResponse
    expect(shared.viewOfResponse(other)).toBeUndefined()
    // Once another request was seen, found again through `res.req`.
    const next = {} as IncomingMessage
    shared.viewOf(next, { ...response(false).res, req: next } as never, runtime.log, NO_RULES, '/b')
    expect(shared.viewOfResponse(res)).toBe(view)
    expect(reads).toBe(1)
  })

  it('knows which responses Portcullis answered itself', () => {
    const shared = nodeViews((m, r, log, rules, route) => new PlainView(m, r, log, rules, route))
    let destroyed = 0
    // A response already started: writing the problem ends the connection.
    const res = { headersSent: true, destroy: () => void destroyed++ } as unknown as ServerResponse
    const other = { ...res } as ServerResponse
    expect(shared.isAnswered(res)).toBe(false)
    shared.answerProblem(res, runtime.error(new Error('x')))
    expect(shared.isAnswered(res)).toBe(true)
    expect(shared.isAnswered(other)).toBe(false)
    expect(destroyed).toBe(1)
  })
})

describe('consoleLogger', () => {
  it('writes warnings and errors to the console, and drops info', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    try {
      consoleLogger.info({ a: 1 }, 'allowed')
      consoleLogger.warn({ b: 2 }, 'denied')
      consoleLogger.error({ c: 3 }, 'failed')
      expect(warn.mock.calls).toEqual([['denied', { b: 2 }]])
      expect(error.mock.calls).toEqual([['failed', { c: 3 }]])
    } finally {
      warn.mockRestore()
      error.mockRestore()
    }
    const enabled = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].filter((level) =>
      consoleLogger.isLevelEnabled!(level),
    )
    expect(enabled).toEqual(['warn', 'error', 'fatal'])
  })
})
