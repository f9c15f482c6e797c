// Egress budgets, enumeration limits and the denial-burst lockout, shared by the adapters'
// suites (test/rate-limit/egress.test.ts and test/express/egress.test.ts). Each app has the
// default limit `{ max: 1000, timeWindow: '1 minute' }` plus the case's `rateLimit`, and the
// memory store. A route's handler answers `{ items: [{ id, secret }, ...] }` with `page` items
// (the allowlist lets `items[].id` out), or `{ id, secret }` without `page`. Each step is one
// request, in order, with a token for its claims.
import type { RouteGuard } from '@portcullis/core'

type Claims = Record<string, unknown>

export interface EgressStep {
  readonly url: string
  readonly claims: Claims | null
  readonly status: number
  /** The problem+json `code` of a refusal. */
  readonly code?: string
  /** Headers the response must carry (lower-case names; `null`: must not carry). */
  readonly headers?: Readonly<Record<string, string | null>>
}

export interface EgressRoute {
  readonly path: string
  readonly guard: RouteGuard
  /** Items per response (`{ items: [...] }`); absent: one object. */
  readonly page?: number
}

export interface EgressCase {
  readonly name: string
  readonly rateLimit?: Readonly<Record<string, unknown>>
  readonly routes: readonly EgressRoute[]
  readonly steps: readonly EgressStep[]
  /** Handler runs the case ends with. */
  readonly runs?: number
  /** The reasons of the case's `deny` audit events (report-only ones included), in order. */
  readonly denials?: readonly string[]
  /** The inventory's budget and enumeration columns for some `GET path` rows. */
  readonly inventory?: Readonly<
    Record<string, { readonly budget?: string | null; readonly enumeration?: string | null }>
  >
}

/** The body a route's handler answers, before the allowlist. */
export function egressBody(route: EgressRoute, id: string | undefined): unknown {
  if (route.page === undefined) return { id: id ?? 'one', secret: 'never leaves' }
  return {
    items: Array.from({ length: route.page }, (_, i) => ({ id: i, secret: 'never leaves' })),
  }
}

const alice = { sub: 'alice', client_id: 'history-svc', scope: 'history:read' }
const bob = { sub: 'bob', client_id: 'history-svc', scope: 'history:read' }
const carol = { sub: 'carol', client_id: 'history-svc', scope: 'history:read history:bulk' }

const page = { allow: ['items[].id'], maxItems: 100 }
const one = { allow: ['id'] }

function repeat(n: number, step: EgressStep): EgressStep[] {
  return Array.from({ length: n }, () => step)
}

const ok = (url: string, claims: Claims): EgressStep => ({ url, claims, status: 200 })
const spent = (url: string, claims: Claims): EgressStep => ({
  url,
  claims,
  status: 429,
  code: 'PCL_BUDGET_EXHAUSTED',
})

export const egressCases: readonly EgressCase[] = [
  {
    name: 'a budget of 1000 items per hour: ten pages of 100, the eleventh is a 429 with the budget headers; another principal is unaffected',
    routes: [
      {
        path: '/history',
        page: 100,
        guard: {
          scopes: ['history:read'],
          budget: { name: 'viewing-history', unit: 'items', max: 1000, timeWindow: '1 hour' },
          response: page,
        },
      },
    ],
    steps: [
      ...repeat(10, ok('/history', alice)),
      {
        ...spent('/history', alice),
        headers: {
          'content-type': 'application/problem+json',
          'retry-after': '3600',
          'ratelimit-limit': '1000',
          'ratelimit-remaining': '0',
          'ratelimit-reset': '3600',
          'www-authenticate': null,
        },
      },
      ok('/history', bob),
    ],
    runs: 11,
    denials: ['PCL_BUDGET_EXHAUSTED'],
    inventory: {
      'GET /history': {
        budget: '1000 items per 1 hour by principal (budget viewing-history)',
        enumeration: null,
      },
    },
  },
  {
    name: 'every token of one principal draws on one balance and one set; a client key spans its principals',
    rateLimit: {},
    routes: [
      {
        path: '/history',
        page: 100,
        guard: {
          scopes: ['history:read'],
          budget: { unit: 'items', max: 200, timeWindow: '1 hour' },
          response: page,
        },
      },
      {
        path: '/videos/:id',
        guard: {
          scopes: ['history:read'],
          enumeration: { param: 'id', maxDistinct: 2, timeWindow: '1 hour', key: 'client' },
          response: one,
        },
      },
    ],
    steps: [
      // Three tokens of alice (three principals, one subject): the third page is refused.
      ok('/history', { ...alice, n: 1 }),
      ok('/history', { ...alice, n: 2 }),
      spent('/history', { ...alice, n: 3 }),
      ok('/history', bob),
      // alice and bob share their client: two distinct ids between them, then a 429.
      ok('/videos/1', { ...alice, n: 4 }),
      ok('/videos/2', bob),
      { url: '/videos/3', claims: { ...alice, n: 5 }, status: 429, code: 'PCL_ENUMERATION' },
      ok('/videos/1', bob),
    ],
    runs: 6,
    denials: ['PCL_BUDGET_EXHAUSTED', 'PCL_ENUMERATION'],
  },
  {
    name: "overdraw 'serve' (the default) sends the page that overdraws and brings the balance to zero",
    routes: [
      {
        path: '/history',
        page: 100,
        guard: {
          scopes: ['history:read'],
          budget: { unit: 'items', max: 250, timeWindow: '1 hour' },
          response: page,
        },
      },
    ],
    steps: [...repeat(3, ok('/history', alice)), spent('/history', alice)],
    runs: 3,
  },
  {
    name: "overdraw 'refuse' answers 429 instead of the page that would overdraw, charging nothing",
    routes: [
      {
        path: '/history',
        page: 100,
        guard: {
          scopes: ['history:read'],
          budget: { unit: 'items', max: 250, timeWindow: '1 hour', overdraw: 'refuse' },
          response: page,
        },
      },
    ],
    steps: [
      ...repeat(2, ok('/history', alice)),
      {
        ...spent('/history', alice),
        headers: { 'ratelimit-limit': '250', 'ratelimit-remaining': '0' },
      },
      spent('/history', alice),
    ],
    // The handler runs: what it answers decides whether it overdraws.
    runs: 4,
    denials: ['PCL_BUDGET_EXHAUSTED', 'PCL_BUDGET_EXHAUSTED'],
    inventory: {
      'GET /history': { budget: '250 items per 1 hour by principal (overdraw refused)' },
    },
  },
  {
    name: 'routes naming one budget share its balance',
    routes: [
      {
        path: '/a',
        page: 100,
        guard: {
          scopes: ['history:read'],
          budget: { name: 'history', unit: 'items', max: 300, timeWindow: '1 hour' },
          response: page,
        },
      },
      {
        path: '/b',
        page: 100,
        guard: {
          scopes: ['history:read'],
          budget: { name: 'history', unit: 'items', max: 300, timeWindow: '1 hour' },
          response: page,
        },
      },
    ],
    steps: [
      ok('/a', alice),
      ok('/b', alice),
      ok('/a', alice),
      spent('/b', alice),
      spent('/a', alice),
    ],
    runs: 3,
  },
  {
    name: 'byScope raises the budget for principals holding the scope',
    routes: [
      {
        path: '/history',
        page: 100,
        guard: {
          scopes: ['history:read'],
          budget: {
            unit: 'items',
            max: 100,
            timeWindow: '1 hour',
            byScope: { 'history:bulk': 300 },
          },
          response: page,
        },
      },
    ],
    steps: [
      ok('/history', alice),
      spent('/history', alice),
      ...repeat(3, ok('/history', carol)),
      {
        ...spent('/history', carol),
        headers: { 'ratelimit-limit': '300' },
      },
    ],
    inventory: {
      'GET /history': { budget: '100 items per 1 hour by principal; 300 with history:bulk' },
    },
  },
  {
    name: 'a byte budget counts the projected body as it leaves, not what the handler returned',
    routes: [
      {
        path: '/history',
        page: 2,
        // Projected: {"items":[{"id":0},{"id":1}]}, 29 bytes (the secrets never count).
        guard: {
          scopes: ['history:read'],
          budget: { unit: 'bytes', max: 58, timeWindow: '1 minute' },
          response: page,
        },
      },
    ],
    steps: [...repeat(2, ok('/history', alice)), spent('/history', alice)],
    runs: 2,
  },
  {
    name: 'a single object counts as one item',
    routes: [
      {
        path: '/users/:id',
        guard: {
          scopes: ['history:read'],
          budget: { unit: 'items', max: 2, timeWindow: '1 minute' },
          response: one,
        },
      },
    ],
    steps: [ok('/users/1', alice), ok('/users/2', alice), spent('/users/3', alice)],
  },
  {
    name: 'report-only: an exhausted budget is reported and the page served',
    routes: [
      {
        path: '/history',
        page: 100,
        guard: {
          scopes: ['history:read'],
          reportOnly: true,
          budget: { unit: 'items', max: 100, timeWindow: '1 hour' },
          response: page,
        },
      },
    ],
    steps: repeat(3, ok('/history', alice)),
    runs: 3,
    denials: ['PCL_BUDGET_EXHAUSTED', 'PCL_BUDGET_EXHAUSTED'],
  },
  {
    name: 'an enumeration limit: distinct ids per principal, re-reads free, the next distinct id is a 429',
    routes: [
      {
        path: '/users/:id',
        guard: {
          scopes: ['history:read'],
          enumeration: { param: 'id', maxDistinct: 3, timeWindow: '1 hour' },
          response: one,
        },
      },
    ],
    steps: [
      ok('/users/1', alice),
      ok('/users/2', alice),
      ok('/users/3', alice),
      ok('/users/1', alice),
      ok('/users/3', alice),
      {
        url: '/users/4',
        claims: alice,
        status: 429,
        code: 'PCL_ENUMERATION',
        headers: { 'retry-after': '3600', 'content-type': 'application/problem+json' },
      },
      ok('/users/2', alice),
      ok('/users/4', bob),
    ],
    runs: 7,
    denials: ['PCL_ENUMERATION'],
    inventory: {
      'GET /users/:id': {
        budget: null,
        enumeration: '3 distinct :id per 1 hour by principal',
      },
    },
  },
  {
    name: 'an enumeration limit on a query parameter; a request without it touches nothing',
    routes: [
      {
        path: '/history',
        page: 1,
        guard: {
          scopes: ['history:read'],
          enumeration: { query: 'user', maxDistinct: 2, timeWindow: '1 minute' },
          response: page,
        },
      },
    ],
    steps: [
      ok('/history?user=a', alice),
      ok('/history?user=b', alice),
      ok('/history?user=a', alice),
      ok('/history', alice),
      { url: '/history?user=c', claims: alice, status: 429, code: 'PCL_ENUMERATION' },
      // A repeated parameter counts each of its values.
      { url: '/history?user=a&user=d', claims: alice, status: 429, code: 'PCL_ENUMERATION' },
    ],
    runs: 4,
    inventory: {
      'GET /history': { enumeration: '2 distinct ?user per 1 minute by principal' },
    },
  },
  {
    name: 'a budget and an enumeration limit together: the walk stops at whichever comes first',
    routes: [
      {
        path: '/users/:id/history',
        page: 10,
        guard: {
          scopes: ['history:read'],
          enumeration: { param: 'id', maxDistinct: 5, timeWindow: '1 hour' },
          budget: { unit: 'items', max: 30, timeWindow: '1 hour' },
          response: page,
        },
      },
    ],
    steps: [
      ok('/users/1/history', alice),
      ok('/users/2/history', alice),
      ok('/users/3/history', alice),
      spent('/users/1/history', alice),
      { url: '/users/9/history', claims: carol, status: 200 },
    ],
    runs: 4,
  },
  {
    name: 'a budget on a public route counts by client address, tokens or not',
    routes: [
      {
        path: '/catalog',
        page: 2,
        guard: {
          public: 'the public catalog',
          budget: { unit: 'items', max: 3, timeWindow: '1 hour', byScope: { 'history:bulk': 100 } },
          response: page,
        },
      },
    ],
    // Every request comes from one address: a token (even with the bulk scope) changes nothing.
    steps: [
      ok('/catalog', carol),
      { url: '/catalog', claims: null, status: 200 },
      spent('/catalog', alice),
    ],
    runs: 2,
    inventory: {
      'GET /catalog': { budget: '3 items per 1 hour by ip; 100 with history:bulk' },
    },
  },
  {
    name: 'a budget counts the array at its path only',
    routes: [
      {
        path: '/history',
        page: 40,
        guard: {
          scopes: ['history:read'],
          budget: { unit: 'items', max: 100, timeWindow: '1 hour', path: 'items' },
          response: page,
        },
      },
    ],
    steps: [...repeat(3, ok('/history', alice)), spent('/history', alice)],
    runs: 3,
    inventory: { 'GET /history': { budget: '100 items per 1 hour by principal (counts items[])' } },
  },
  {
    name: 'report-only: a value past the enumeration limit is reported and served',
    routes: [
      {
        path: '/users/:id',
        guard: {
          scopes: ['history:read'],
          reportOnly: true,
          enumeration: { param: 'id', maxDistinct: 1, timeWindow: '1 hour' },
          response: one,
        },
      },
    ],
    steps: [
      ok('/users/1', alice),
      ok('/users/2', alice),
      ok('/users/1', alice),
      ok('/users/3', alice),
    ],
    runs: 4,
    denials: ['PCL_ENUMERATION', 'PCL_ENUMERATION'],
  },
  {
    name: 'lockout: repeated authorization denials lock the principal out of every guarded route for the cool-down',
    rateLimit: { lockout: { max: 3, timeWindow: '1 minute', coolDown: '15 minutes' } },
    routes: [
      { path: '/admin', guard: { scopes: ['admin'], response: one } },
      { path: '/users/:id', guard: { scopes: ['history:read'], response: one } },
      { path: '/healthz', guard: { public: 'probe', response: one } },
    ],
    steps: [
      ok('/users/1', alice),
      { url: '/admin', claims: alice, status: 403, code: 'PCL_INSUFFICIENT_SCOPE' },
      { url: '/admin', claims: alice, status: 403, code: 'PCL_INSUFFICIENT_SCOPE' },
      { url: '/admin', claims: alice, status: 403, code: 'PCL_INSUFFICIENT_SCOPE' },
      {
        url: '/users/1',
        claims: alice,
        status: 429,
        code: 'PCL_LOCKED_OUT',
        headers: { 'retry-after': '900', 'content-type': 'application/problem+json' },
      },
      { url: '/admin', claims: alice, status: 429, code: 'PCL_LOCKED_OUT' },
      ok('/users/1', bob),
      { url: '/healthz', claims: null, status: 200 },
      // A public route has no lockout: the locked-out principal still reaches it.
      { url: '/healthz', claims: alice, status: 200 },
    ],
    runs: 4,
    denials: [
      'PCL_INSUFFICIENT_SCOPE',
      'PCL_INSUFFICIENT_SCOPE',
      'PCL_INSUFFICIENT_SCOPE',
      'PCL_LOCKED_OUT',
      'PCL_LOCKED_OUT',
      'PCL_LOCKED_OUT',
    ],
  },
  {
    name: 'lockout counts caller and claim denials, not authentication failures, per principal',
    rateLimit: { lockout: { max: 2, timeWindow: '1 minute', coolDown: '1 minute' } },
    routes: [
      { path: '/internal', guard: { callers: ['admin-svc'], response: one } },
      { path: '/users/:id', guard: { claims: { sub: { param: 'id' } }, response: one } },
    ],
    steps: [
      { url: '/users/bob', claims: alice, status: 403, code: 'PCL_CLAIM_MISMATCH' },
      { url: '/users/alice', claims: null, status: 401, code: 'PCL_TOKEN_MISSING' },
      ok('/users/alice', alice),
      { url: '/internal', claims: alice, status: 403, code: 'PCL_CALLER_NOT_ALLOWED' },
      { url: '/users/alice', claims: alice, status: 429, code: 'PCL_LOCKED_OUT' },
      ok('/users/bob', bob),
    ],
    runs: 2,
  },
]
