import type { PortcullisOptions } from '@portcullis/fastify'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { cachedTokens, expectEgressOutcome, expectEgressStep, injected } from '../cases/checks.js'
import { egressBody, egressCases, type EgressRoute } from '../cases/egress.js'
import { guardedApp, readyError, type GuardedApp } from '../helpers.js'

let issuer: TestIssuer
beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
})

const open: GuardedApp[] = []
afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(open.splice(0).map((t) => t.app.close()))
})

/** An app with the case's routes, whose handlers count their runs; `call` reuses tokens. */
async function egressApp(
  routes: readonly EgressRoute[],
  rateLimit: Readonly<Record<string, unknown>> = {},
  extra: Partial<PortcullisOptions> = {},
) {
  let runs = 0
  const t = await guardedApp(
    (app: FastifyInstance) => {
      for (const route of routes) {
        app.get(route.path, { config: { guard: route.guard } }, (request) => {
          runs++
          return egressBody(route, (request.params as { id?: string }).id)
        })
      }
    },
    {
      issuer,
      portcullis: {
        rateLimit: { max: 1000, timeWindow: '1 minute', ...rateLimit },
        response: {},
        ...extra,
      },
    },
  )
  open.push(t)
  const tokenFor = cachedTokens(issuer)
  return {
    ...t,
    runs: () => runs,
    async call(url: string, claims: Record<string, unknown> | null) {
      const headers = claims === null ? {} : bearer(await tokenFor(claims))
      return t.app.inject({ method: 'GET', url, headers })
    },
  }
}

// The cases shared with the Express adapter's suite (test/cases/egress.ts).
describe('the shared egress cases', () => {
  it.each(egressCases)('$name', async ({ rateLimit, routes, steps, runs, denials, inventory }) => {
    const t = await egressApp(routes, rateLimit)
    for (const [i, step] of steps.entries()) {
      expectEgressStep(injected(await t.call(step.url, step.claims)), step, i)
    }
    expectEgressOutcome(
      { runs, denials, inventory },
      { runs: t.runs(), events: t.events, routes: t.app.portcullis.routes() },
    )
  })
})

const alice = { sub: 'alice', client_id: 'history-svc', scope: 'history:read' }
const pageRoute = (guard: Record<string, unknown>): EgressRoute => ({
  path: '/history',
  page: 10,
  guard: { scopes: ['history:read'], response: { allow: ['items[].id'] }, ...guard },
})

describe('Fastify specifics', () => {
  it('the budget window resets whole once it has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const t = await egressApp([
      pageRoute({ budget: { unit: 'items', max: 10, timeWindow: '1 minute' } }),
    ])
    expect((await t.call('/history', alice)).statusCode).toBe(200)
    vi.setSystemTime(Date.now() + 30_000)
    const spent = await t.call('/history', alice)
    expect(spent.statusCode).toBe(429)
    expect(spent.headers['retry-after']).toBe('30')
    vi.setSystemTime(Date.now() + 30_001)
    expect((await t.call('/history', alice)).statusCode).toBe(200)
  })

  it('error bodies are never charged', async () => {
    const t = await egressApp([])
    t.app.get(
      '/missing',
      {
        config: {
          guard: {
            scopes: ['history:read'],
            budget: { unit: 'items', max: 1, timeWindow: '1 minute' },
            response: { allow: ['items[].id'] },
          },
        },
      },
      async (_request, reply) => reply.code(404).send({ items: [{ id: 1 }, { id: 2 }] }),
    )
    for (let i = 0; i < 3; i++) expect((await t.call('/missing', alice)).statusCode).toBe(404)
  })

  it('a serialized JSON body is charged as it leaves', async () => {
    const t = await egressApp([])
    t.app.get(
      '/raw',
      {
        config: {
          guard: {
            scopes: ['history:read'],
            budget: { unit: 'bytes', max: 20, timeWindow: '1 minute' },
            response: { allow: ['id'] },
          },
        },
      },
      async (_request, reply) =>
        reply.type('application/json').send('{"id":"0123456789","secret":"never leaves"}'),
    )
    // {"id":"0123456789"}: 17 bytes, so the second brings the balance to zero.
    const codes: number[] = []
    for (let i = 0; i < 3; i++) codes.push((await t.call('/raw', alice)).statusCode)
    expect(codes).toEqual([200, 200, 429])
  })

  it('a body an app onSend hook changes is charged once, on what finally leaves', async () => {
    const t = await egressApp([])
    t.app.register(async (child) => {
      // Changes the serialized body after the projection: the guard projects it again.
      child.addHook('onSend', async (_request, _reply, payload) =>
        typeof payload === 'string'
          ? payload.replace('}]', '},{"id":"extra","secret":1}]')
          : payload,
      )
      child.get(
        '/hooked',
        {
          config: {
            guard: {
              scopes: ['history:read'],
              budget: { unit: 'items', max: 6, timeWindow: '1 minute' },
              response: { allow: ['items[].id'] },
            },
          },
        },
        async () => ({ items: [{ id: 'a', secret: 'x' }] }),
      )
    })
    // Two items leave per request (the hook's included, its secret dropped): 3 requests fit in
    // 6 items when each is charged once; charged twice, the third would be refused.
    const bodies: unknown[] = []
    const codes: number[] = []
    for (let i = 0; i < 4; i++) {
      const res = await t.call('/hooked', alice)
      codes.push(res.statusCode)
      if (i === 0) bodies.push(res.json())
    }
    expect(bodies[0]).toEqual({ items: [{ id: 'a' }, { id: 'extra' }] })
    expect(codes).toEqual([200, 200, 200, 429])
  })

  it('a projected body an onSend hook leaves alone is charged once, by its serialized bytes', async () => {
    const t = await egressApp([])
    t.app.get(
      '/bytes',
      {
        config: {
          guard: {
            scopes: ['history:read'],
            budget: { unit: 'bytes', max: 40, timeWindow: '1 minute' },
            response: { allow: ['id'] },
          },
        },
      },
      async () => ({ id: '0123456789', secret: 'never leaves' }),
    )
    // {"id":"0123456789"}: 17 bytes: 17, 34, then the third overdraws and is served (serve).
    const codes: number[] = []
    for (let i = 0; i < 4; i++) codes.push((await t.call('/bytes', alice)).statusCode)
    expect(codes).toEqual([200, 200, 200, 429])
  })

  it.each([
    [
      { budget: { unit: 'items', max: 10, timeWindow: '1 minute' }, response: undefined },
      'guard.budget',
      /declare guard.response/,
    ],
    [
      {
        budget: { unit: 'items', max: 10, timeWindow: '1 minute' },
        response: { passthrough: 'x' },
      },
      'guard.budget',
      /not a passthrough/,
    ],
    [{ budget: { unit: 'item', max: 10, timeWindow: '1 minute' } }, 'guard.budget.unit', /items/],
    [{ budget: { unit: 'items', max: 0, timeWindow: '1 minute' } }, 'guard.budget.max', /positive/],
    [
      { budget: { unit: 'items', max: 1, timeWindow: 'soon' } },
      'guard.budget.timeWindow',
      /duration/,
    ],
    [
      { budget: { unit: 'items', max: 1, timeWindow: 1000, overdraw: 'clamp' } },
      'guard.budget.overdraw',
      /serve/,
    ],
    [
      { budget: { unit: 'bytes', max: 1, timeWindow: 1000, path: 'items' } },
      'guard.budget.path',
      /items/,
    ],
    [{ budget: { unit: 'items', max: 1, timeWindow: 1000, maxx: 2 } }, 'guard.budget', /maxx/],
    [
      { enumeration: { maxDistinct: 3, timeWindow: 1000 } },
      'guard.enumeration',
      /exactly one of param/,
    ],
    [
      { enumeration: { param: 'id', query: 'id', maxDistinct: 3, timeWindow: 1000 } },
      'guard.enumeration',
      /exactly one/,
    ],
    [
      { enumeration: { param: 'id', maxDistinct: 0, timeWindow: 1000 } },
      'guard.enumeration.maxDistinct',
      /from 1 to 100000/,
    ],
  ])('%j is refused at startup naming %s', async (guard, field, message) => {
    const t = await egressApp([])
    t.app.get(
      '/x/:id',
      // Invalid on purpose: the cast lets the test declare what the types would refuse.
      {
        config: {
          guard: { scopes: ['history:read'], response: { allow: ['id'] }, ...guard } as never,
        },
      },
      () => ({}),
    )
    const err = await readyError(t.app)
    expect(err.code).toBe('PCL_INVALID_GUARD')
    expect(err.message).toContain(field)
    expect(err.message).toMatch(message)
  })

  it('a named budget declared with two limits is refused at startup', async () => {
    const t = await egressApp([
      {
        path: '/a',
        guard: {
          scopes: ['history:read'],
          budget: { name: 'h', unit: 'items', max: 10, timeWindow: '1 hour' },
          response: { allow: ['id'] },
        },
      },
      {
        path: '/b',
        guard: {
          scopes: ['history:read'],
          budget: { name: 'h', unit: 'items', max: 20, timeWindow: '1 hour' },
          response: { allow: ['id'] },
        },
      },
    ])
    const err = await readyError(t.app)
    expect(err.message).toMatch(/guard.budget.name 'h' is declared with another limit by GET \/a/)
  })

  it('guard.budget without the rateLimit option is refused, saying what to add', async () => {
    const t = await guardedApp(
      (app) => {
        app.get(
          '/h',
          {
            config: {
              guard: {
                scopes: ['history:read'],
                budget: { unit: 'items', max: 10, timeWindow: '1 hour' },
                response: { allow: ['id'] },
              },
            },
          },
          () => ({}),
        )
      },
      { issuer },
    )
    open.push(t)
    const err = await readyError(t.app)
    expect(err.message).toMatch(
      /guard.budget needs @portcullis\/rate-limit.*add the rateLimit option/,
    )
  })

  it('memory stays bounded: at most `cache` keys whatever the number of principals', async () => {
    const t = await egressApp(
      [
        {
          path: '/users/:id',
          guard: {
            authenticated: true,
            enumeration: { param: 'id', maxDistinct: 2, timeWindow: '1 hour' },
            budget: { unit: 'items', max: 5, timeWindow: '1 hour' },
            response: { allow: ['id'] },
          },
        },
      ],
      {
        cache: 5,
        key: (_principal: unknown, request: { headers: Record<string, unknown> }) =>
          String(request.headers['x-who']),
      },
    )
    const token = await issuer.token({ sub: 'shared' })
    for (let i = 0; i < 40; i++) {
      const res = await t.app.inject({
        url: `/users/${i}`,
        headers: { ...bearer(token), 'x-who': `p${i}` },
      })
      expect(res.statusCode).toBe(200)
    }
  })
})
