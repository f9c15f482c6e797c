// Response allowlisting, shared by the adapters' suites (test/allowlist/plugin.test.ts and
// test/express/responses.test.ts). Each case is one route `GET /r` whose handler answers `body`
// as JSON with `status`, and the requests made to it with a token for the given claims (`null`:
// no token).
import type { RouteGuard } from '@portcullis/core'

export const row = {
  id: '7',
  title: 'river night',
  owner: { id: 'user-1', email: 'user1@corp.example' },
  tags: ['jazz', 'city'],
  uploadIp: '10.0.0.7',
  storagePath: 's3://videos-internal/raw/7.mp4',
  moderation: { status: 'ok', notes: 'internal' },
}
export const allow = ['id', 'title', 'owner.id', 'tags[]']
export const projected = {
  id: '7',
  title: 'river night',
  owner: { id: 'user-1' },
  tags: ['jazz', 'city'],
}

/** One request to a case's route and how it must be answered. */
export interface ResponseRequest {
  readonly claims: Record<string, unknown> | null
  readonly status: number
  /** The exact JSON body. */
  readonly body?: unknown
  /** The problem+json `code` of a refusal (with a `deny` audit event). */
  readonly code?: string
  /** The refusal's audit event names these undeclared paths (in any order), and no value. */
  readonly undeclaredFields?: readonly string[]
}

export interface ResponseCase {
  readonly name: string
  readonly guard: RouteGuard
  readonly body: unknown
  readonly status?: number
  readonly requests: readonly ResponseRequest[]
}

const user = { sub: 'user-1' }
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, secret: 's' }))

export const responseCases: readonly ResponseCase[] = [
  {
    name: 'an object is projected onto its allowlist',
    guard: { authenticated: true, response: { allow } },
    body: row,
    requests: [{ claims: user, status: 200, body: projected }],
  },
  {
    name: 'a top-level array, element by element',
    guard: { authenticated: true, response: { allow: allow.map((p) => `[].${p}`) } },
    body: [row, row],
    requests: [{ claims: user, status: 200, body: [projected, projected] }],
  },
  {
    name: 'a public route is allowlisted too',
    guard: { public: 'probe', response: { allow: ['ok'] } },
    body: { ok: true, version: '1.2.3', hostname: 'pod-17' },
    requests: [{ claims: null, status: 200, body: { ok: true } }],
  },
  {
    name: 'byScope fields only for principals holding the scope',
    guard: {
      authenticated: true,
      response: { allow, byScope: { 'videos:internal': ['uploadIp'] } },
    },
    body: row,
    requests: [
      { claims: user, status: 200, body: projected },
      {
        claims: { ...user, scope: 'videos:internal' },
        status: 200,
        body: { ...projected, uploadIp: '10.0.0.7' },
      },
    ],
  },
  {
    name: 'a list within maxItems',
    guard: { authenticated: true, response: { allow: ['[].id'], maxItems: 3 } },
    body: items(3),
    requests: [{ claims: user, status: 200, body: [{ id: 0 }, { id: 1 }, { id: 2 }] }],
  },
  {
    name: 'a list over maxItems is a 500, never a partial body',
    guard: { authenticated: true, response: { allow: ['[].id'], maxItems: 3 } },
    body: items(4),
    requests: [{ claims: user, status: 500, code: 'PCL_TOO_MANY_ITEMS' }],
  },
  {
    name: "mode 'reject' refuses a body with undeclared fields, naming their paths in the audit event",
    guard: { authenticated: true, response: { allow, mode: 'reject' } },
    body: row,
    requests: [
      {
        claims: user,
        status: 500,
        code: 'PCL_RESPONSE_REJECTED',
        undeclaredFields: ['owner.email', 'uploadIp', 'storagePath', 'moderation'],
      },
    ],
  },
  {
    name: "mode 'reject' serves a body with only declared fields",
    guard: { authenticated: true, response: { allow, mode: 'reject' } },
    body: projected,
    requests: [{ claims: user, status: 200, body: projected }],
  },
  {
    name: "mode 'reject' refuses a `__proto__` key, even with a scalar value, under a wildcard",
    guard: { authenticated: true, response: { allow: ['id', 'stats.*'], mode: 'reject' } },
    // JSON.parse makes `__proto__` an own key, as a body read from a database or upstream would.
    body: JSON.parse('{ "id": "7", "stats": { "views": 3, "__proto__": 1 } }') as unknown,
    requests: [
      {
        claims: user,
        status: 500,
        code: 'PCL_RESPONSE_REJECTED',
        undeclaredFields: ['stats.__proto__'],
      },
    ],
  },
  {
    name: 'strip mode drops a `__proto__` key, whatever its value',
    guard: { authenticated: true, response: { allow: ['id', 'stats.*'] } },
    body: JSON.parse(
      '{ "id": "7", "stats": { "views": 3, "__proto__": 1 }, "__proto__": { "isAdmin": true } }',
    ) as unknown,
    requests: [{ claims: user, status: 200, body: { id: '7', stats: { views: 3 } } }],
  },
  {
    name: 'an error body keeps only problem+json fields',
    guard: { authenticated: true, response: { allow } },
    status: 500,
    body: { title: 'Oops', status: 500, stack: 'Error: at db.ts:12', secret: 'hunter2' },
    requests: [{ claims: user, status: 500, body: { title: 'Oops', status: 500 } }],
  },
  {
    name: 'a passthrough route serves success bodies as they are, error bodies reduced',
    guard: { authenticated: true, response: { passthrough: 'legacy payload' } },
    status: 404,
    body: { type: 'about:blank', status: 404, path: '/internal/7' },
    requests: [{ claims: user, status: 404, body: { type: 'about:blank', status: 404 } }],
  },
]
