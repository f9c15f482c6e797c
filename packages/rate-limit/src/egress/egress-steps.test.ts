import { createHash } from 'node:crypto'
import type { AuditEvent, Principal, RenderedProblem } from '@portcullis/core'
import type { Pending, RequestView, Step } from '@portcullis/core/internal'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createLockout,
  createRouteEgress,
  type EgressContext,
  type EgressRoute,
} from './egress-steps.js'
import { createMemoryEgressStore, type EgressStore } from './egress-store.js'
import { planEgress, type EgressGuard } from './plan-egress.js'

// The egress steps framework-free, over the memory store or a store that fails: what each step
// answers, what it audits and logs, and what it charges. test/cases/egress.ts runs them through
// both adapters.

afterEach(() => {
  vi.useRealTimers()
})

function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    subject: 'alice',
    issuer: 'https://auth.test',
    clientId: 'history-svc',
    scopes: new Set(['history:read']),
    claims: {},
    ...overrides,
  }
}

function log() {
  return { info: vi.fn(), warn: vi.fn(), error: vi.fn() }
}

interface ViewOptions {
  readonly principal?: Principal | null
  readonly method?: string
  readonly params?: unknown
  readonly query?: unknown
  readonly ip?: string
  readonly log?: ReturnType<typeof log>
  readonly headers?: Record<string, string>
}

function view(options: ViewOptions = {}): RequestView {
  return {
    method: options.method ?? 'GET',
    route: '/r',
    url: '/r',
    ip: options.ip ?? '203.0.113.7',
    requestId: null,
    log: options.log ?? log(),
    native: {
      params: 'params' in options ? options.params : {},
      query: 'query' in options ? options.query : {},
      headers: options.headers ?? {},
    },
    start: 0,
    principal: options.principal === undefined ? principal() : options.principal,
    authenticated: true,
    dpop: undefined,
    queryTokenAllowed: () => false,
    dpopRequired: () => false,
    setHeader: () => undefined,
  } as unknown as RequestView
}

const at: EgressRoute = { route: '/r', countsAt: '/r', reportOnly: false }

function context(
  store: EgressStore = createMemoryEgressStore(100),
  overrides: Partial<EgressContext> = {},
) {
  const events: AuditEvent[] = []
  const ctx: EgressContext = {
    store,
    decision: { realm: undefined, audit: (event) => events.push(event) },
    headers: {
      limit: 'RateLimit-Limit',
      remaining: 'RateLimit-Remaining',
      reset: 'RateLimit-Reset',
    },
    onStoreError: 'fail-closed',
    health: { down: false },
    log: log(),
    ...overrides,
  }
  return { ctx, events }
}

const budgetGuard = (budget: Record<string, unknown>): EgressGuard => ({
  budget,
  enumeration: undefined,
  response: { allow: ['items[].id'] },
})

function plan(guard: Partial<EgressGuard>, isPublic = false) {
  return planEgress(
    { budget: undefined, enumeration: undefined, response: { allow: ['id'] }, ...guard },
    { label: 'GET /r', isPublic, defaultKey: 'principal' },
  )
}

/** The answer of a step or meter that answers at once. */
function now(answer: Pending): RenderedProblem | null {
  if (answer instanceof Promise) throw new Error('the step answered later')
  return answer
}

const items = (n: number) => ({
  value: { items: Array.from({ length: n }, (_, id) => ({ id })) },
  text: undefined,
})

describe('budgets', () => {
  it('the check refuses from the request that starts with the balance spent, with the headers of the budget', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { ctx, events } = context()
    const egress = createRouteEgress(
      plan(budgetGuard({ unit: 'items', max: 10, timeWindow: 2500 })),
      at,
      ctx,
    )
    const [check] = egress.steps as [Step]
    const v = view()
    expect(now(check(v))).toBeNull()
    expect(now(egress.meter!(v, 200, items(9)))).toBeNull()
    expect(now(check(v))).toBeNull()
    expect(now(egress.meter!(v, 200, items(1)))).toBeNull()
    vi.setSystemTime(Date.now() + 1)
    const refused = now(check(v))!
    expect(refused.status).toBe(429)
    expect(refused.body).toMatchObject({ code: 'PCL_BUDGET_EXHAUSTED' })
    // 2499 ms left: rounded up to whole seconds.
    expect(refused.headers).toMatchObject({
      'retry-after': '3',
      'ratelimit-limit': '10',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '3',
    })
    expect(events.map((e) => [e.decision, e.reason, e.route])).toEqual([
      ['deny', 'PCL_BUDGET_EXHAUSTED', '/r'],
    ])
  })
})

describe('the budget meter', () => {
  function metered(budget: Record<string, unknown>, reportOnly = false) {
    const store = createMemoryEgressStore(100)
    const { ctx, events } = context(store)
    const egress = createRouteEgress(plan(budgetGuard(budget)), { ...at, reportOnly }, ctx)
    return { store, ctx, events, check: egress.steps[0]!, meter: egress.meter! }
  }

  it('charges success bodies only: 200 to 299, never a HEAD response or an error', () => {
    const { check, meter } = metered({ unit: 'items', max: 3, timeWindow: 60_000 })
    const v = view()
    for (const status of [199, 300, 304, 404, 500])
      expect(now(meter(v, status, items(5)))).toBeNull()
    expect(now(meter(view({ method: 'HEAD' }), 200, items(5)))).toBeNull()
    expect(now(check(v))).toBeNull()
    expect(now(meter(v, 299, items(2)))).toBeNull()
    expect(now(check(v))).toBeNull()
    expect(now(meter(v, 200, items(1)))).toBeNull()
    expect(now(check(v))).toMatchObject({ status: 429 })
  })

  it('a body that carries nothing opens no window: the window starts at the first charge', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { check, meter } = metered({ unit: 'items', max: 2, timeWindow: 10_000 })
    const v = view()
    expect(now(meter(v, 200, items(0)))).toBeNull()
    expect(now(meter(v, 200, { value: null, text: undefined }))).toBeNull()
    vi.setSystemTime(Date.now() + 6000)
    expect(now(meter(v, 200, items(2)))).toBeNull()
    vi.setSystemTime(Date.now() + 6000)
    // Opened by the empty body, the window would have reset by now.
    expect(now(check(v))).toMatchObject({ status: 429, headers: { 'retry-after': '4' } })
  })

  it('a byte budget charges the serialized text when there is one, else the value as JSON', () => {
    const { check, meter } = metered({ unit: 'bytes', max: 20, timeWindow: 60_000 })
    const v = view()
    expect(now(meter(v, 200, { value: { id: 1 }, text: '{"id":1,"pad":"xxxxx"}' }))).toBeNull()
    expect(now(check(v))).toMatchObject({ status: 429 })
    const other = metered({ unit: 'bytes', max: 20, timeWindow: 60_000 })
    expect(now(other.meter(v, 200, { value: { id: 1 }, text: undefined }))).toBeNull()
    expect(now(other.check(v))).toBeNull()
  })

  it("overdraw 'refuse' answers 429 for the body that would overdraw and charges nothing; 'serve' sends it", () => {
    const refusing = metered({ unit: 'items', max: 5, timeWindow: 60_000, overdraw: 'refuse' })
    const v = view()
    expect(now(refusing.meter(v, 200, items(4)))).toBeNull()
    expect(now(refusing.meter(v, 200, items(2)))).toMatchObject({
      status: 429,
      headers: { 'ratelimit-limit': '5' },
    })
    expect(now(refusing.meter(v, 200, items(1)))).toBeNull()
    expect(now(refusing.check(v))).toMatchObject({ status: 429 })
    expect(refusing.events.map((e) => e.reason)).toEqual([
      'PCL_BUDGET_EXHAUSTED',
      'PCL_BUDGET_EXHAUSTED',
    ])

    const serving = metered({ unit: 'items', max: 5, timeWindow: 60_000 })
    expect(now(serving.meter(v, 200, items(4)))).toBeNull()
    expect(now(serving.meter(v, 200, items(2)))).toBeNull()
    expect(now(serving.check(v))).toMatchObject({ status: 429 })
  })

  it('report-only: an exhausted budget and a refused overdraw are reported, and served', () => {
    const { check, meter, events } = metered(
      { unit: 'items', max: 2, timeWindow: 60_000, overdraw: 'refuse' },
      true,
    )
    const v = view()
    expect(now(meter(v, 200, items(3)))).toBeNull()
    expect(now(meter(v, 200, items(2)))).toBeNull()
    expect(now(check(v))).toBeNull()
    expect(events.map((e) => [e.decision, e.reason, e.reportOnly])).toEqual([
      ['deny', 'PCL_BUDGET_EXHAUSTED', true],
      ['deny', 'PCL_BUDGET_EXHAUSTED', true],
    ])
  })

  it('counts the array at path, not the others', () => {
    const { check, meter } = metered({
      unit: 'items',
      max: 3,
      timeWindow: 60_000,
      path: 'data.results[]',
    })
    const v = view()
    const body = { value: { data: { results: [1, 2] }, other: [1, 2, 3, 4] }, text: undefined }
    expect(now(meter(v, 200, body))).toBeNull()
    expect(now(check(v))).toBeNull()
    expect(now(meter(v, 200, body))).toBeNull()
    expect(now(check(v))).toMatchObject({ status: 429 })
  })
})

describe('whose balance', () => {
  it('byScope: the largest max among the principal scopes applies; a smaller one never lowers it', () => {
    const { ctx } = context()
    const egress = createRouteEgress(
      plan(
        budgetGuard({
          unit: 'items',
          max: 2,
          timeWindow: 60_000,
          byScope: { small: 1, big: 5, bigger: 4 },
        }),
      ),
      at,
      ctx,
    )
    const check = egress.steps[0]!
    const meter = egress.meter!
    const spend = (p: Principal, n: number) => {
      const v = view({ principal: p })
      now(meter(v, 200, items(n)))
      return now(check(v))
    }
    expect(spend(principal({ subject: 'a', scopes: new Set(['small']) }), 2)).toMatchObject({
      headers: { 'ratelimit-limit': '2' },
    })
    expect(
      spend(principal({ subject: 'b', scopes: new Set(['bigger', 'big', 'small']) }), 4),
    ).toBeNull()
    expect(
      spend(principal({ subject: 'b', scopes: new Set(['bigger', 'big', 'small']) }), 1),
    ).toMatchObject({
      headers: { 'ratelimit-limit': '5' },
    })
    expect(spend(principal({ subject: 'c', scopes: new Set(['bigger']) }), 4)).toMatchObject({
      headers: { 'ratelimit-limit': '4' },
    })
  })

  it('a public route counts by IP, with the base max whatever byScope says', () => {
    const { ctx } = context()
    const egress = createRouteEgress(
      plan(budgetGuard({ unit: 'items', max: 2, timeWindow: 60_000, byScope: { big: 50 } }), true),
      at,
      ctx,
    )
    const anonymous = view({ principal: null })
    expect(now(egress.meter!(anonymous, 200, items(2)))).toBeNull()
    expect(now(egress.steps[0]!(anonymous))).toMatchObject({ headers: { 'ratelimit-limit': '2' } })
    expect(now(egress.steps[0]!(view({ principal: null, ip: '203.0.113.8' })))).toBeNull()
  })

  it('every principal object of one subject draws on one balance; a key function is asked every time', () => {
    const { ctx } = context()
    const own = createRouteEgress(
      plan(budgetGuard({ unit: 'items', max: 2, timeWindow: 60_000 })),
      at,
      ctx,
    )
    now(own.meter!(view({ principal: principal() }), 200, items(2)))
    expect(now(own.steps[0]!(view({ principal: principal() })))).toMatchObject({ status: 429 })
    expect(now(own.steps[0]!(view({ principal: principal({ subject: 'bob' }) })))).toBeNull()

    const tenant = vi.fn(
      (_p: unknown, request: { headers: Record<string, string> }) => request.headers['x-tenant']!,
    )
    const byTenant = createRouteEgress(
      plan(budgetGuard({ unit: 'items', max: 2, timeWindow: 60_000, key: tenant })),
      at,
      ctx,
    )
    const p = principal()
    now(byTenant.meter!(view({ principal: p, headers: { 'x-tenant': 'a' } }), 200, items(2)))
    expect(
      now(byTenant.steps[0]!(view({ principal: p, headers: { 'x-tenant': 'a' } }))),
    ).toMatchObject({
      status: 429,
    })
    expect(now(byTenant.steps[0]!(view({ principal: p, headers: { 'x-tenant': 'b' } })))).toBeNull()
    expect(tenant).toHaveBeenCalledTimes(3)
  })

  it('an ip key counts by address whoever the principal; no principal counts by address too', () => {
    const { ctx } = context()
    const byIp = createRouteEgress(
      plan(budgetGuard({ unit: 'items', max: 2, timeWindow: 60_000, key: 'ip' })),
      at,
      ctx,
    )
    const p = principal()
    now(byIp.meter!(view({ principal: p, ip: '203.0.113.1' }), 200, items(2)))
    expect(now(byIp.steps[0]!(view({ principal: p, ip: '203.0.113.1' })))).toMatchObject({
      status: 429,
    })
    expect(now(byIp.steps[0]!(view({ principal: p, ip: '203.0.113.2' })))).toBeNull()

    const own = createRouteEgress(
      plan(budgetGuard({ unit: 'items', max: 2, timeWindow: 60_000 })),
      at,
      ctx,
    )
    now(own.meter!(view({ principal: null, ip: '203.0.113.3' }), 200, items(2)))
    expect(now(own.steps[0]!(view({ principal: null, ip: '203.0.113.3' })))).toMatchObject({
      status: 429,
    })
    expect(now(own.steps[0]!(view({ principal: null, ip: '203.0.113.4' })))).toBeNull()
    expect(now(own.steps[0]!(view({ principal: p, ip: '203.0.113.3' })))).toBeNull()
  })

  it('without the RateLimit headers (headers: false) a refusal carries Retry-After alone', () => {
    const { ctx } = context(createMemoryEgressStore(100), { headers: null })
    const egress = createRouteEgress(
      plan(budgetGuard({ unit: 'items', max: 1, timeWindow: 60_000 })),
      at,
      ctx,
    )
    now(egress.meter!(view(), 200, items(1)))
    expect(now(egress.steps[0]!(view()))?.headers).toEqual({
      'content-type': 'application/problem+json',
      'retry-after': '60',
    })
  })

  it("a route's own balance is its own; a named budget is shared by the routes naming it", () => {
    const { ctx } = context()
    const own = (countsAt: string) =>
      createRouteEgress(
        plan(budgetGuard({ unit: 'items', max: 2, timeWindow: 60_000 })),
        { ...at, countsAt },
        ctx,
      )
    const named = (countsAt: string) =>
      createRouteEgress(
        plan(budgetGuard({ name: 'history', unit: 'items', max: 2, timeWindow: 60_000 })),
        { ...at, countsAt },
        ctx,
      )
    const v = view()
    now(own('/a').meter!(v, 200, items(2)))
    expect(now(own('/a').steps[0]!(v))).toMatchObject({ status: 429 })
    expect(now(own('/b').steps[0]!(v))).toBeNull()
    now(named('/a').meter!(v, 200, items(2)))
    expect(now(named('/b').steps[0]!(v))).toMatchObject({ status: 429 })
    // Another name is another balance, whatever the route.
    const other = createRouteEgress(
      plan(budgetGuard({ name: 'downloads', unit: 'items', max: 2, timeWindow: 60_000 })),
      { ...at, countsAt: '/a' },
      ctx,
    )
    expect(now(other.steps[0]!(v))).toBeNull()
  })

  it('a key function that throws refuses the request (503), before the handler and before a body leaves', () => {
    const { ctx, events } = context()
    const boom = () => {
      throw new Error('no tenant')
    }
    const egress = createRouteEgress(
      plan(budgetGuard({ unit: 'items', max: 2, timeWindow: 60_000, key: boom })),
      at,
      ctx,
    )
    const l = log()
    expect(now(egress.steps[0]!(view({ log: l })))).toMatchObject({
      status: 503,
      body: { code: 'PCL_STORE_UNAVAILABLE' },
    })
    expect(now(egress.meter!(view({ log: l }), 200, items(1)))).toMatchObject({ status: 503 })
    expect(l.error).toHaveBeenCalledTimes(2)
    expect(events.map((e) => e.reason)).toEqual(['PCL_STORE_UNAVAILABLE', 'PCL_STORE_UNAVAILABLE'])
  })
})

/** A store whose every operation fails: at once (`throw`), or later (`reject`). */
function failingStore(how: 'throw' | 'reject'): EgressStore {
  const fail = (): never => {
    throw new Error('redis: connection refused')
  }
  const op = how === 'throw' ? fail : () => Promise.reject(new Error('redis: connection refused'))
  return {
    kind: 'redis',
    balance: op,
    charge: op,
    touch: op,
    lockedFor: op,
    deny: op,
    size: () => null,
    clear: () => undefined,
  }
}

describe('a store that fails', () => {
  const enumerated: Partial<EgressGuard> = {
    enumeration: { param: 'id', maxDistinct: 2, timeWindow: 60_000 },
  }

  it.each(['throw', 'reject'] as const)(
    'fails closed (503) at every step when it would %s, the outage logged once',
    async (how) => {
      const { ctx, events } = context(failingStore(how))
      const budget = createRouteEgress(
        plan(budgetGuard({ unit: 'items', max: 2, timeWindow: 60_000 })),
        at,
        ctx,
      )
      const enumeration = createRouteEgress(plan(enumerated), at, ctx)
      const l = log()
      const v = view({ params: { id: '1' }, log: l })
      const answers = await Promise.all([
        budget.steps[0]!(v),
        budget.meter!(v, 200, items(1)),
        enumeration.steps[0]!(v),
      ])
      for (const answer of answers) {
        expect(answer).toMatchObject({ status: 503, body: { code: 'PCL_STORE_UNAVAILABLE' } })
      }
      expect(events.map((e) => [e.decision, e.reason])).toEqual(
        Array.from({ length: 3 }, () => ['deny', 'PCL_STORE_UNAVAILABLE']),
      )
      expect(l.warn).toHaveBeenCalledTimes(1)
    },
  )

  it.each(['throw', 'reject'] as const)(
    "serves with onStoreError: 'fail-open' when it would %s, with an allow event",
    async (how) => {
      const { ctx, events } = context(failingStore(how), { onStoreError: 'fail-open' })
      const budget = createRouteEgress(
        plan(budgetGuard({ unit: 'items', max: 2, timeWindow: 60_000 })),
        at,
        ctx,
      )
      const v = view()
      expect(await budget.steps[0]!(v)).toBeNull()
      expect(await budget.meter!(v, 200, items(1))).toBeNull()
      expect(events.map((e) => [e.decision, e.reason])).toEqual([
        ['allow', 'PCL_STORE_UNAVAILABLE'],
        ['allow', 'PCL_STORE_UNAVAILABLE'],
      ])
    },
  )

  it('an answer after an outage logs the store answering again, once, at once or later', async () => {
    let failing = true
    const memory = createMemoryEgressStore(100)
    const flaky = (later: boolean): EgressStore => ({
      ...memory,
      balance(key) {
        if (failing) throw new Error('down')
        return later ? Promise.resolve(memory.balance(key)) : memory.balance(key)
      },
    })
    for (const later of [false, true]) {
      failing = true
      const { ctx } = context(flaky(later))
      const check = createRouteEgress(
        plan(budgetGuard({ unit: 'items', max: 2, timeWindow: 60_000 })),
        at,
        ctx,
      ).steps[0]!
      const l = log()
      expect(await check(view({ log: l }))).toMatchObject({ status: 503 })
      failing = false
      expect(await check(view({ log: l }))).toBeNull()
      expect(await check(view({ log: l }))).toBeNull()
      expect(l.info).toHaveBeenCalledTimes(1)
      expect(ctx.health.down).toBe(false)
    }
  })
})

describe('enumeration limits', () => {
  function enumeration(
    spec: Record<string, unknown>,
    reportOnly = false,
    store = createMemoryEgressStore(100),
  ) {
    const { ctx, events } = context(store)
    const step = createRouteEgress(plan({ enumeration: spec }), { ...at, reportOnly }, ctx)
      .steps[0]!
    return { step, events, store }
  }

  it('counts distinct route parameter values per principal, re-reads free, with Retry-After and no budget headers', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { step, events } = enumeration({ param: 'id', maxDistinct: 2, timeWindow: 1500 })
    expect(now(step(view({ params: { id: 'a' } })))).toBeNull()
    expect(now(step(view({ params: { id: 'b' } })))).toBeNull()
    expect(now(step(view({ params: { id: 'a' } })))).toBeNull()
    const refused = now(step(view({ params: { id: 'c' } })))!
    expect(refused).toMatchObject({ status: 429, body: { code: 'PCL_ENUMERATION' } })
    expect(refused.headers).toEqual({
      'content-type': 'application/problem+json',
      'retry-after': '2',
    })
    expect(
      now(step(view({ params: { id: 'c' }, principal: principal({ subject: 'bob' }) }))),
    ).toBeNull()
    // The query is not the route parameter.
    expect(now(step(view({ params: { id: 'a' }, query: { id: 'z' } })))).toBeNull()
    expect(events.map((e) => [e.reason, e.route, e.status])).toEqual([
      ['PCL_ENUMERATION', '/r', 429],
    ])
  })

  it('reads the query parameter, not a route parameter of the same name', () => {
    const { step } = enumeration({ query: 'user', maxDistinct: 1, timeWindow: 60_000 })
    expect(now(step(view({ query: { user: 'a' } })))).toBeNull()
    expect(now(step(view({ query: { user: 'a' }, params: { user: 'b' } })))).toBeNull()
    expect(now(step(view({ query: { user: 'b' } })))).toMatchObject({ status: 429 })
  })

  it.each([
    ['a repeated query value: each distinct value', ['x', 'y', 'x', '', 3, '3'], ['x', 'y', '3']],
    [
      'a repeated long value: once, as its digest',
      ['l'.repeat(65), 'l'.repeat(65)],
      [`#${createHash('sha256').update('l'.repeat(65)).digest('base64url')}`],
    ],
    ['a value of 64 characters: itself', 'v'.repeat(64), ['v'.repeat(64)]],
    ['a number', 7, ['7']],
    ['an empty string: nothing', '', []],
    // An object-producing query parser (`?q[x]=a`): counted, never a way past the limit.
    ['an object: its JSON', { x: 'a' }, ['{"x":"a"}']],
    [
      'objects in a repeated value: each JSON',
      [{ x: 'a' }, { x: 'b' }, { x: 'a' }],
      ['{"x":"a"}', '{"x":"b"}'],
    ],
    ['a boolean', true, ['true']],
    // A custom parser's object JSON cannot hold: one value for all of them, still counted.
    [
      'a cyclic object: one marker',
      (() => {
        const o: Record<string, unknown> = {}
        o.self = o
        return o
      })(),
      ['\0unreadable'],
    ],
    ['null: nothing', null, []],
  ])('%s', (_name, value, counted) => {
    const touched: (readonly string[])[] = []
    const memory = createMemoryEgressStore(100)
    const { step } = enumeration({ query: 'q', maxDistinct: 5, timeWindow: 60_000 }, false, {
      ...memory,
      touch(key, values, max, window) {
        touched.push(values)
        return memory.touch(key, values, max, window)
      },
    })
    expect(now(step(view({ query: { q: value } })))).toBeNull()
    expect(touched).toEqual(counted.length === 0 ? [] : [counted])
  })

  it('a request without the parameter, or without a query at all, touches nothing', () => {
    const { step } = enumeration({ query: 'q', maxDistinct: 1, timeWindow: 60_000 })
    expect(now(step(view({ query: null })))).toBeNull()
    expect(now(step(view({ query: 'q=a' })))).toBeNull()
    // A raw string (a custom query parser's) is read as no parameters, not as a string's properties.
    const { step: lengthOf } = enumeration({ query: 'length', maxDistinct: 1, timeWindow: 60_000 })
    expect(now(lengthOf(view({ query: 'length=1' })))).toBeNull()
    expect(now(lengthOf(view({ query: 'length=22' })))).toBeNull()
    expect(now(step(view({ query: {} })))).toBeNull()
    expect(now(step(view({ query: { q: 'a' } })))).toBeNull()
    expect(now(step(view({ query: { q: 'b' } })))).toMatchObject({ status: 429 })
  })

  it('long values are told apart by their digest, not cut to a prefix', () => {
    const { step } = enumeration({ param: 'id', maxDistinct: 1, timeWindow: 60_000 })
    const long = 'x'.repeat(100)
    expect(now(step(view({ params: { id: `${long}1` } })))).toBeNull()
    expect(now(step(view({ params: { id: `${long}1` } })))).toBeNull()
    expect(now(step(view({ params: { id: `${long}2` } })))).toMatchObject({ status: 429 })
  })

  it('each route counts its own values; report-only reports the value past the limit and serves', () => {
    const { ctx, events } = context()
    const spec = { enumeration: { param: 'id', maxDistinct: 1, timeWindow: 60_000 } }
    const a = createRouteEgress(plan(spec), { ...at, countsAt: '/a' }, ctx).steps[0]!
    const b = createRouteEgress(plan(spec), { ...at, countsAt: '/b', reportOnly: true }, ctx)
      .steps[0]!
    expect(now(a(view({ params: { id: '1' } })))).toBeNull()
    expect(now(b(view({ params: { id: '2' } })))).toBeNull()
    expect(now(b(view({ params: { id: '3' } })))).toBeNull()
    expect(now(a(view({ params: { id: '3' } })))).toMatchObject({ status: 429 })
    expect(events.map((e) => [e.reason, e.reportOnly === true])).toEqual([
      ['PCL_ENUMERATION', true],
      ['PCL_ENUMERATION', false],
    ])
  })

  it('a key function that throws refuses the request (503)', () => {
    const { step, events } = enumeration({
      param: 'id',
      maxDistinct: 1,
      timeWindow: 60_000,
      key: () => {
        throw new Error('no tenant')
      },
    })
    expect(now(step(view({ params: { id: '1' } })))).toMatchObject({ status: 503 })
    expect(events.map((e) => e.reason)).toEqual(['PCL_STORE_UNAVAILABLE'])
  })
})

const spec = { max: 2, timeWindow: 60_000, coolDown: 90_500 }

describe('the denial-burst lockout', () => {
  it('the max-th denial locks the principal out of every route for the cool-down, audited once', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { ctx, events } = context()
    const forRoute = createLockout(spec, ctx)
    const watch = forRoute(false)
    const other = forRoute(false)
    const alice = view()
    expect(now(watch.check(alice))).toBeNull()
    watch.denied(alice, 'PCL_INSUFFICIENT_SCOPE')
    expect(now(other.check(alice))).toBeNull()
    watch.denied(alice, 'PCL_INSUFFICIENT_SCOPE')
    expect(events.map((e) => [e.decision, e.reason, e.status])).toEqual([
      ['deny', 'PCL_LOCKED_OUT', 429],
    ])
    vi.setSystemTime(Date.now() + 500)
    const refused = now(other.check(alice))!
    expect(refused).toMatchObject({ status: 429, body: { code: 'PCL_LOCKED_OUT' } })
    expect(refused.headers).toEqual({
      'content-type': 'application/problem+json',
      'retry-after': '90',
    })
    expect(now(other.check(view({ principal: principal({ subject: 'bob' }) })))).toBeNull()
    vi.setSystemTime(Date.now() + 90_000)
    expect(now(other.check(alice))).toBeNull()
  })

  it('requests without a principal are never counted nor locked out', () => {
    const { ctx, events } = context()
    const watch = createLockout({ ...spec, max: 1 }, ctx)(false)
    const anonymous = view({ principal: null })
    watch.denied(anonymous, 'PCL_INSUFFICIENT_SCOPE')
    expect(now(watch.check(anonymous))).toBeNull()
    expect(now(watch.check(view()))).toBeNull()
    expect(events).toEqual([])
    expect(ctx.store.size()).toBe(0)
  })

  it('report-only routes report a locked-out principal and serve it', () => {
    const { ctx, events } = context()
    const forRoute = createLockout({ ...spec, max: 1 }, ctx)
    const alice = view()
    forRoute(false).denied(alice, 'PCL_CLAIM_MISMATCH')
    expect(now(forRoute(true).check(alice))).toBeNull()
    expect(now(forRoute(false).check(alice))).toMatchObject({ status: 429 })
    expect(events.map((e) => [e.reason, e.reportOnly === true])).toEqual([
      ['PCL_LOCKED_OUT', false],
      ['PCL_LOCKED_OUT', true],
      ['PCL_LOCKED_OUT', false],
    ])
  })

  it('a store answering later: the lockout starts, and holds, the same', async () => {
    const memory = createMemoryEgressStore(100)
    const later: EgressStore = {
      ...memory,
      deny: (...args) => Promise.resolve(memory.deny(...args)),
      lockedFor: (key) => Promise.resolve(memory.lockedFor(key)),
    }
    const { ctx, events } = context(later)
    const watch = createLockout({ ...spec, max: 1 }, ctx)(false)
    const alice = view()
    watch.denied(alice, 'PCL_INSUFFICIENT_SCOPE')
    await Promise.resolve()
    expect(events.map((e) => e.reason)).toEqual(['PCL_LOCKED_OUT'])
    expect(await watch.check(alice)).toMatchObject({ status: 429 })
    expect(await watch.check(view({ principal: principal({ subject: 'bob' }) }))).toBeNull()
  })

  it.each(['throw', 'reject'] as const)(
    'a denial the store fails to count (%s) is logged, never thrown; the check then fails closed',
    async (how) => {
      const { ctx, events } = context(failingStore(how))
      const watch = createLockout(spec, ctx)(false)
      const l = log()
      const alice = view({ log: l })
      expect(() => watch.denied(alice, 'PCL_INSUFFICIENT_SCOPE')).not.toThrow()
      await Promise.resolve()
      expect(l.warn).toHaveBeenCalledTimes(1)
      expect(ctx.health.down).toBe(true)
      expect(events).toEqual([])
      expect(await watch.check(alice)).toMatchObject({ status: 503 })
    },
  )
})

describe('telemetry', () => {
  it('each step runs in its span when tracing', () => {
    const names: string[] = []
    const telemetry = {
      traceStep: (name: string, step: Step): Step => {
        names.push(name)
        return (v) => step(v)
      },
    }
    const { ctx } = context()
    const traced = { ...ctx, decision: { ...ctx.decision, telemetry } } as unknown as EgressContext
    const egress = createRouteEgress(
      plan({
        ...budgetGuard({ unit: 'items', max: 1, timeWindow: 60_000 }),
        enumeration: { param: 'id', maxDistinct: 1, timeWindow: 60_000 },
      }),
      at,
      traced,
    )
    const watch = createLockout(spec, traced)(false)
    expect(names).toEqual(['portcullis.enumeration', 'portcullis.budget', 'portcullis.lockout'])
    expect(egress.steps).toHaveLength(2)
    expect(now(egress.steps[0]!(view({ params: { id: '1' } })))).toBeNull()
    expect(now(egress.steps[1]!(view()))).toBeNull()
    expect(now(watch.check(view()))).toBeNull()
  })

  it('a route without limits has no steps and no meter', () => {
    const { ctx } = context()
    expect(createRouteEgress(plan({}), at, ctx)).toEqual({ steps: [], meter: null })
  })
})
