// Rate limits, shared by the adapters' suites (test/rate-limit/limits.test.ts and
// test/express/rate-limit.test.ts). Each app's default limit is `{ max: 3, timeWindow:
// '1 minute' }` plus the case's `rateLimit`; each step is one request, made in order, with a
// token for its claims (`null`: none), all from one client address. Cases that need several
// addresses stay in the Fastify suite, whose injected requests can pick one.
import type { RouteGuard } from '@portcullis/core'

type Claims = Record<string, unknown>

export interface LimitStep {
  readonly url: string
  readonly claims: Claims | null
  readonly method?: 'GET' | 'HEAD' | 'POST'
  readonly status: number
  /** Headers the response must carry (lower-case names; `null`: must not carry). */
  readonly headers?: Readonly<Record<string, string | null>>
}

export interface LimitCase {
  readonly name: string
  readonly rateLimit?: Readonly<Record<string, unknown>>
  readonly routes: readonly {
    readonly method?: 'GET' | 'POST'
    readonly path: string
    readonly guard: RouteGuard
  }[]
  readonly steps: readonly LimitStep[]
  /** Handler runs the case ends with. */
  readonly runs?: number
  /** The reasons of the case's `deny` audit events (report-only ones included), in order. */
  readonly denials?: readonly string[]
  /** The inventory's rate-limit column for some `METHOD path` rows. */
  readonly inventory?: Readonly<Record<string, string>>
}

const alice = { sub: 'alice', client_id: 'player-svc', scope: 'videos:read' }
const bob = { sub: 'bob', client_id: 'player-svc', scope: 'videos:read' }
const authenticated = { authenticated: true } as const

/** `n` steps of one request, then one more answered `last`. */
function times(n: number, step: Omit<LimitStep, 'status'>, last = 429): LimitStep[] {
  return [...Array.from({ length: n }, () => ({ ...step, status: 200 })), { ...step, status: last }]
}

export const limitCases: readonly LimitCase[] = [
  {
    name: 'allows max requests per window, then a 429 problem+json with Retry-After and RateLimit headers',
    routes: [{ path: '/v/:id', guard: { scopes: 'videos:read' } }],
    steps: [
      {
        url: '/v/1',
        claims: alice,
        status: 200,
        headers: { 'ratelimit-limit': '3', 'ratelimit-remaining': '2', 'ratelimit-reset': '60' },
      },
      { url: '/v/1', claims: alice, status: 200, headers: { 'ratelimit-remaining': '1' } },
      { url: '/v/1', claims: alice, status: 200, headers: { 'ratelimit-remaining': '0' } },
      {
        url: '/v/1',
        claims: alice,
        status: 429,
        headers: {
          'content-type': 'application/problem+json',
          'retry-after': '60',
          'ratelimit-limit': '3',
          'ratelimit-remaining': '0',
          'ratelimit-reset': '60',
          'www-authenticate': null,
        },
      },
    ],
    runs: 3,
    denials: ['PCL_RATE_LIMITED'],
  },
  {
    name: 'counts two principals independently',
    routes: [{ path: '/v', guard: authenticated }],
    steps: [...times(3, { url: '/v', claims: alice }), ...times(3, { url: '/v', claims: bob })],
  },
  {
    name: 'does not count anonymous requests refused before it (401), nor against the address',
    rateLimit: { key: 'ip' },
    routes: [{ path: '/v', guard: authenticated }],
    steps: [
      ...Array.from({ length: 6 }, () => ({ url: '/v', claims: null, status: 401 })),
      ...times(3, { url: '/v', claims: alice }),
    ],
  },
  {
    name: 'runs after the policy: requests it refuses (403) are not counted',
    routes: [{ path: '/v', guard: { scopes: 'videos:write' } }],
    steps: [
      ...Array.from({ length: 5 }, () => ({
        url: '/v',
        claims: { sub: 'bob', scope: 'videos:read' },
        status: 403,
      })),
      ...times(3, { url: '/v', claims: { sub: 'bob', scope: 'videos:write' } }),
    ],
    runs: 3,
  },
  {
    name: 'the key space is the route template, never the raw URL',
    routes: [
      { path: '/v/:id', guard: authenticated },
      { path: '/w/:id', guard: authenticated },
    ],
    steps: [
      { url: '/v/1', claims: alice, status: 200 },
      { url: '/v/2', claims: alice, status: 200 },
      { url: '/v/3?x=1', claims: alice, status: 200 },
      { url: '/v/4', claims: alice, status: 429 },
      { url: '/w/1', claims: alice, status: 200 },
    ],
  },
  {
    name: 'HEAD counts against its GET route; other methods have their own budget',
    routes: [
      { path: '/v/:id', guard: authenticated },
      { method: 'POST', path: '/v/:id', guard: authenticated },
    ],
    steps: [
      { url: '/v/1', claims: alice, status: 200 },
      { url: '/v/1', claims: alice, method: 'HEAD', status: 200 },
      { url: '/v/1', claims: alice, status: 200 },
      { url: '/v/1', claims: alice, method: 'HEAD', status: 429 },
      { url: '/v/1', claims: alice, status: 429 },
      { url: '/v/1', claims: alice, method: 'POST', status: 200 },
    ],
  },
  {
    name: 'a named bucket is one budget shared by the routes naming it',
    routes: [
      {
        path: '/search/videos',
        guard: {
          authenticated: true,
          rateLimit: { max: 3, timeWindow: '1 minute', bucket: 'search' },
        },
      },
      {
        path: '/search/users',
        guard: {
          authenticated: true,
          rateLimit: { max: 3, timeWindow: '1 minute', bucket: 'search' },
        },
      },
      { path: '/other', guard: authenticated },
    ],
    steps: [
      { url: '/search/videos', claims: alice, status: 200 },
      { url: '/search/users', claims: alice, status: 200 },
      { url: '/search/videos', claims: alice, status: 200 },
      { url: '/search/users', claims: alice, status: 429 },
      { url: '/other', claims: alice, status: 200 },
    ],
    inventory: {
      'GET /other': '3 per 1 minute by principal',
      'GET /search/users': '3 per 1 minute by principal (bucket search)',
      'GET /search/videos': '3 per 1 minute by principal (bucket search)',
    },
  },
  {
    name: 'guard.rateLimit replaces the default, with its own window',
    routes: [
      {
        path: '/strict',
        guard: { authenticated: true, rateLimit: { max: 1, timeWindow: 10_000 } },
      },
    ],
    steps: [
      { url: '/strict', claims: alice, status: 200 },
      {
        url: '/strict',
        claims: alice,
        status: 429,
        headers: { 'retry-after': '10', 'ratelimit-limit': '1' },
      },
    ],
    inventory: { 'GET /strict': '1 per 10 seconds by principal' },
  },
  {
    name: '{ exempt: reason } leaves the route unlimited and shows the reason in the inventory',
    routes: [
      {
        path: '/stream',
        guard: {
          authenticated: true,
          rateLimit: { exempt: 'long-poll endpoint, one call per client' },
        },
      },
    ],
    steps: Array.from({ length: 6 }, () => ({
      url: '/stream',
      claims: alice,
      status: 200,
      headers: { 'ratelimit-limit': null },
    })),
    inventory: { 'GET /stream': 'exempt: long-poll endpoint, one call per client' },
  },
  {
    name: 'overrides give principal-dependent limits, declared as data; the first match wins',
    routes: [
      {
        path: '/export',
        guard: {
          scopes: 'videos:read',
          rateLimit: {
            max: 2,
            timeWindow: '1 minute',
            overrides: [
              { when: { callers: ['indexer-svc'], scopes: ['videos:bulk'] }, max: 5 },
              { when: { callers: ['indexer-svc'] }, max: 3 },
            ],
          },
        },
      },
    ],
    steps: [
      ...times(5, {
        url: '/export',
        claims: { sub: 'indexer', client_id: 'indexer-svc', scope: 'videos:read videos:bulk' },
      }),
      ...times(3, {
        url: '/export',
        claims: { sub: 'indexer-2', client_id: 'indexer-svc', scope: 'videos:read' },
      }),
      ...times(2, {
        url: '/export',
        claims: { sub: 'u', client_id: 'player-svc', scope: 'videos:read videos:bulk' },
      }),
    ],
    inventory: {
      'GET /export':
        '2 per 1 minute by principal; 5 for callers indexer-svc with scopes videos:bulk; 3 for callers indexer-svc',
    },
  },
  {
    name: 'a report-only route reports the 429 it would send and serves the request',
    routes: [{ path: '/new', guard: { authenticated: true, reportOnly: true } }],
    steps: Array.from({ length: 5 }, () => ({ url: '/new', claims: alice, status: 200 })),
    runs: 5,
    denials: ['PCL_RATE_LIMITED', 'PCL_RATE_LIMITED'],
  },
  {
    name: 'public routes count by address, with or without a token',
    routes: [{ path: '/healthz', guard: { public: 'liveness probe' } }],
    steps: [
      { url: '/healthz', claims: null, status: 200 },
      { url: '/healthz', claims: alice, status: 200 },
      { url: '/healthz', claims: bob, status: 200 },
      { url: '/healthz', claims: null, status: 429 },
    ],
    inventory: { 'GET /healthz': '3 per 1 minute by ip (public)' },
  },
  {
    name: "'client' counts every principal of one client together; no client falls back to the principal",
    rateLimit: { key: 'client' },
    routes: [{ path: '/v', guard: authenticated }],
    steps: [
      { url: '/v', claims: alice, status: 200 },
      { url: '/v', claims: bob, status: 200 },
      { url: '/v', claims: { sub: 'carol', client_id: 'player-svc' }, status: 200 },
      { url: '/v', claims: { sub: 'dave', client_id: 'player-svc' }, status: 429 },
      { url: '/v', claims: { sub: 'erin', client_id: 'search-svc' }, status: 200 },
      ...times(3, { url: '/v', claims: { sub: 'no-client' } }),
      { url: '/v', claims: { sub: 'other-no-client' }, status: 200 },
    ],
    inventory: { 'GET /v': '3 per 1 minute by client' },
  },
  {
    name: "'ip' counts every principal of one address together",
    rateLimit: { key: 'ip' },
    routes: [{ path: '/v', guard: authenticated }],
    steps: [
      { url: '/v', claims: alice, status: 200 },
      { url: '/v', claims: bob, status: 200 },
      { url: '/v', claims: { sub: 'carol' }, status: 200 },
      { url: '/v', claims: { sub: 'dave' }, status: 429 },
    ],
  },
  {
    name: 'a key function of the principal and request',
    rateLimit: {
      key: function byTenant(principal: { claims: Claims }) {
        return String(principal.claims.tenant)
      },
    },
    routes: [{ path: '/t/:tenant', guard: authenticated }],
    steps: [
      ...['u1', 'u2', 'u3'].map((sub) => ({
        url: '/t/a',
        claims: { sub, tenant: 'acme' },
        status: 200,
      })),
      { url: '/t/a', claims: { sub: 'u4', tenant: 'acme' }, status: 429 },
      { url: '/t/a', claims: { sub: 'u1', tenant: 'globex' }, status: 200 },
    ],
    inventory: { 'GET /t/:tenant': '3 per 1 minute by key function byTenant' },
  },
  {
    name: 'a key function that throws, returns no string or an empty one refuses with 503, even fail-open',
    rateLimit: {
      key: () => {
        throw new Error('secret internal detail')
      },
      onStoreError: 'fail-open',
    },
    routes: [
      { path: '/v', guard: authenticated },
      {
        path: '/w',
        guard: {
          authenticated: true,
          rateLimit: { max: 3, timeWindow: 1000, key: () => 42 as unknown as string },
        },
      },
      // An empty key would count every caller in one bucket.
      {
        path: '/x',
        guard: { authenticated: true, rateLimit: { max: 3, timeWindow: 1000, key: () => '' } },
      },
      {
        path: '/y',
        guard: { authenticated: true, rateLimit: { max: 3, timeWindow: 1000, key: () => ' \t' } },
      },
    ],
    steps: [
      {
        url: '/v',
        claims: alice,
        status: 503,
        headers: { 'content-type': 'application/problem+json' },
      },
      { url: '/w', claims: alice, status: 503 },
      { url: '/x', claims: alice, status: 503 },
      { url: '/y', claims: bob, status: 503 },
    ],
    runs: 0,
    denials: [
      'PCL_STORE_UNAVAILABLE',
      'PCL_STORE_UNAVAILABLE',
      'PCL_STORE_UNAVAILABLE',
      'PCL_STORE_UNAVAILABLE',
    ],
  },
  {
    name: 'headers: false sends no RateLimit headers; a 429 still carries Retry-After',
    rateLimit: { headers: false, max: 1 },
    routes: [{ path: '/v', guard: authenticated }],
    steps: [
      { url: '/v', claims: alice, status: 200, headers: { 'ratelimit-limit': null } },
      {
        url: '/v',
        claims: alice,
        status: 429,
        headers: { 'retry-after': '60', 'ratelimit-limit': null, 'ratelimit-remaining': null },
      },
    ],
  },
  {
    name: "headers: 'x-ratelimit' uses the X-RateLimit-* names",
    rateLimit: { headers: 'x-ratelimit' },
    routes: [{ path: '/v', guard: authenticated }],
    steps: [
      {
        url: '/v',
        claims: alice,
        status: 200,
        headers: {
          'x-ratelimit-limit': '3',
          'x-ratelimit-remaining': '2',
          'x-ratelimit-reset': '60',
          'ratelimit-limit': null,
        },
      },
    ],
  },
]
