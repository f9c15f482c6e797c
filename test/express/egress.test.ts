import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cachedTokens, expectEgressOutcome, expectEgressStep, fetched } from '../cases/checks.js'
import { egressBody, egressCases, type EgressRoute } from '../cases/egress.js'
import { guardedExpress, thrown, type GuardedExpress, type Reply } from './helpers.js'

let issuer: TestIssuer
beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
})

const open: GuardedExpress[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()))
})

/** An app with the case's routes (answered with `res.json`), whose handlers count their runs. */
async function egressExpress(
  routes: readonly EgressRoute[],
  rateLimit: Readonly<Record<string, unknown>> = {},
  send: 'json' | 'end' = 'json',
) {
  let runs = 0
  const h = await guardedExpress(
    (app, guard) => {
      for (const route of routes) {
        app.get(route.path, guard(route.guard), (req, res) => {
          runs++
          const body = egressBody(route, req.params.id as string | undefined)
          if (send === 'json') res.json(body)
          else res.type('application/json').end(JSON.stringify(body))
        })
      }
    },
    {
      issuer,
      portcullis: {
        rateLimit: { max: 1000, timeWindow: '1 minute', ...rateLimit },
        response: {},
      },
    },
  )
  open.push(h)
  const tokenFor = cachedTokens(issuer)
  return {
    ...h,
    runs: () => runs,
    async call(url: string, claims: Record<string, unknown> | null): Promise<Reply> {
      const headers = claims === null ? {} : bearer(await tokenFor(claims))
      return h.request(url, { headers })
    },
  }
}

// The cases of the Fastify suite (test/cases/egress.ts), against the Express adapter, with bodies
// sent through `res.json` and, serialized already, through `res.end`.
describe.each(['json', 'end'] as const)('the shared egress cases (res.%s)', (send) => {
  it.each(egressCases)('$name', async ({ rateLimit, routes, steps, runs, denials, inventory }) => {
    const t = await egressExpress(routes, rateLimit, send)
    for (const [i, step] of steps.entries()) {
      expectEgressStep(fetched(await t.call(step.url, step.claims)), step, i)
    }
    expectEgressOutcome(
      { runs, denials, inventory },
      { runs: t.runs(), events: t.events, routes: t.guard.routes() },
    )
  })
})

describe('Express specifics', () => {
  it('guard.budget without the rateLimit option is refused where guard() was called', async () => {
    const h = await guardedExpress(() => undefined, { seal: false, issuer })
    open.push(h)
    const err = thrown(() =>
      h.guard({
        scopes: ['history:read'],
        budget: { unit: 'items', max: 10, timeWindow: '1 hour' },
        response: { allow: ['id'] },
      }),
    )
    expect(err.code).toBe('PCL_INVALID_GUARD')
    expect(err.field).toBe('guard.budget')
    expect(err.message).toMatch(/egress\.test\.ts.*needs a store: add the rateLimit option/s)
  })

  it("a query value Express's extended parser makes an object of is counted, not skipped", async () => {
    const h = await guardedExpress(
      (app, guard) => {
        app.set('query parser', 'extended')
        app.get(
          '/search',
          guard({
            scopes: ['history:read'],
            enumeration: { query: 'user', maxDistinct: 2, timeWindow: '1 hour' },
            response: { allow: ['ok'] },
          }),
          (_req, res) => res.json({ ok: true }),
        )
      },
      { issuer, portcullis: { rateLimit: { max: 1000, timeWindow: '1 minute' } } },
    )
    open.push(h)
    const headers = bearer(await issuer.token({ sub: 'scraper', scope: 'history:read' }))
    const status = async (query: string) =>
      (await h.request(`/search?${query}`, { headers })).status
    expect(await status('user=1')).toBe(200)
    expect(await status('user[id]=2')).toBe(200)
    // Two distinct values already: a third, in any shape, is refused.
    expect(await status('user[id]=3')).toBe(429)
    expect(await status('user[0]=4')).toBe(429)
    expect(await status('user=1')).toBe(200)
  })

  it('an invalid enumeration limit is refused with the other problems of the guard', async () => {
    const t = await egressExpress([])
    const err = thrown(() =>
      t.guard({
        scopes: ['history:read'],
        enumeration: { param: 'id', maxDistinct: 0, timeWindow: '1 hour' },
        response: { allow: ['id'] },
      }),
    )
    expect(err.field).toBe('guard.enumeration.maxDistinct')
  })
})
