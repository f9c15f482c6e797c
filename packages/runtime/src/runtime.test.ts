import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isPortcullisError, type GuardRequest } from '@portcullis/core'
import { andThen, runSteps, settle } from '@portcullis/core/internal'
import { createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { admitBody } from './body.js'
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
})
