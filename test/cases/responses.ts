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

/** A list holding one object of `user-1` and one of `user-2`, serialized already. */
export const ownedList = JSON.stringify({
  items: [
    { id: 1, ownerId: 'user-1' },
    { id: 2, ownerId: 'user-2', email: 'user2@corp.example' },
  ],
})
/** The allowlist and owner rule of {@link ownedList}; `user-1` gets its own object only. */
export const ownedSpec = {
  allow: ['items[].id', 'items[].ownerId'],
  owner: { path: 'items[].ownerId', claim: 'sub' },
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
  /**
   * `guard.response.owner`: how many returned objects did not belong to the principal. With
   * `code`, the refusal's event counts them; without, the last event is an `allow` with reason
   * `PCL_NOT_OWNED` counting them (0: no such event).
   */
  readonly notOwned?: number
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
  {
    name: 'a passthrough route reduces error bodies from status 400 on',
    guard: { authenticated: true, response: { passthrough: 'legacy payload' } },
    status: 400,
    body: { type: 'about:blank', status: 400, title: 'Bad', query: 'SELECT * FROM users' },
    requests: [
      { claims: user, status: 400, body: { type: 'about:blank', status: 400, title: 'Bad' } },
    ],
  },
  ...ownerCases(),
]

// guard.response.owner: object-level authorization for lists.
function ownerCases(): ResponseCase[] {
  const history = (...owners: unknown[]) => ({
    items: owners.map((ownerId, i) => ({ id: i, ownerId, secret: 's' })),
  })
  const kept = (...pairs: [number, unknown][]) => ({
    items: pairs.map(([id, ownerId]) => ({ id, ownerId })),
  })
  const byOwner = ['items[].id', 'items[].ownerId']
  const owner = { path: 'items[].ownerId', claim: 'sub' }
  return [
    {
      name: 'owner: objects of other principals are dropped, with an audit event counting them',
      guard: { authenticated: true, response: { allow: byOwner, owner } },
      body: history('user-1', 'user-2', 'user-1', 'user-3'),
      requests: [
        { claims: user, status: 200, body: kept([0, 'user-1'], [2, 'user-1']), notOwned: 2 },
        { claims: { sub: 'user-3' }, status: 200, body: kept([3, 'user-3']), notOwned: 3 },
      ],
    },
    {
      name: 'owner: a list that is all the principal’s leaves whole, without an event',
      guard: { authenticated: true, response: { allow: byOwner, owner } },
      body: history('user-1', 'user-1'),
      requests: [
        { claims: user, status: 200, body: kept([0, 'user-1'], [1, 'user-1']), notOwned: 0 },
      ],
    },
    {
      name: 'owner: a missing, null, nested or differently typed owner field never matches',
      guard: { authenticated: true, response: { allow: byOwner, owner } },
      body: {
        items: [
          { id: 0 },
          { id: 1, ownerId: null },
          { id: 2, ownerId: { id: 'user-1' } },
          { id: 3, ownerId: ['user-1'] },
          { id: 4, ownerId: 'USER-1' },
          { id: 5, ownerId: 'user-1 ' },
          null,
          'user-1',
          { id: 8, ownerId: 'user-1' },
        ],
      },
      requests: [{ claims: user, status: 200, body: kept([8, 'user-1']), notOwned: 8 }],
    },
    {
      name: 'owner: a number claim matches a number, never the same digits as a string',
      guard: {
        authenticated: true,
        response: { allow: byOwner, owner: { path: 'items[].ownerId', claim: 'uid' } },
      },
      body: history(42, '42', 42.5, 42),
      requests: [
        { claims: { ...user, uid: 42 }, status: 200, body: kept([0, 42], [3, 42]), notOwned: 2 },
        { claims: { ...user, uid: '42' }, status: 200, body: kept([1, '42']), notOwned: 3 },
      ],
    },
    {
      name: 'owner: a token without the claim (or with an empty one) owns nothing',
      guard: {
        authenticated: true,
        response: { allow: byOwner, owner: { path: 'items[].ownerId', claim: 'org' } },
      },
      body: { items: [{ id: 0 }, { id: 1, ownerId: '' }, { id: 2, ownerId: 'org-1' }] },
      requests: [
        { claims: user, status: 200, body: { items: [] }, notOwned: 3 },
        { claims: { ...user, org: '' }, status: 200, body: { items: [] }, notOwned: 3 },
        { claims: { ...user, org: ['org-1'] }, status: 200, body: { items: [] }, notOwned: 3 },
        { claims: { ...user, org: 'org-1' }, status: 200, body: kept([2, 'org-1']), notOwned: 2 },
      ],
    },
    {
      name: 'owner: an owner field on the prototype, or under a __proto__ key, is not the object’s',
      guard: { authenticated: true, response: { allow: byOwner, owner } },
      body: {
        items: [
          JSON.parse('{"id":0,"__proto__":{"ownerId":"user-1"}}') as unknown,
          Object.assign(Object.create({ ownerId: 'user-1' }) as object, { id: 1 }),
          { id: 2, ownerId: 'user-1' },
        ],
      },
      requests: [{ claims: user, status: 200, body: kept([2, 'user-1']), notOwned: 2 }],
    },
    {
      name: 'owner: nested arrays, every inner list filtered',
      guard: {
        authenticated: true,
        response: {
          allow: ['groups[].name', 'groups[].items[].id', 'groups[].items[].owner.id'],
          owner: { path: 'groups[].items[].owner.id', claim: 'sub' },
        },
      },
      body: {
        groups: [
          {
            name: 'a',
            items: [
              { id: 1, owner: { id: 'user-1' } },
              { id: 2, owner: { id: 'user-2' } },
            ],
          },
          { name: 'b', items: [{ id: 3, owner: { id: 'user-2' } }] },
          { name: 'c' },
        ],
      },
      requests: [
        {
          claims: user,
          status: 200,
          body: {
            groups: [
              { name: 'a', items: [{ id: 1, owner: { id: 'user-1' } }] },
              { name: 'b', items: [] },
              { name: 'c' },
            ],
          },
          notOwned: 2,
        },
      ],
    },
    {
      name: "owner: mode 'reject' refuses a response carrying another principal's object",
      guard: {
        authenticated: true,
        response: { allow: byOwner, owner: { ...owner, mode: 'reject' } },
      },
      body: history('user-1', 'user-2', 'user-3'),
      requests: [
        { claims: user, status: 500, code: 'PCL_RESPONSE_REJECTED', notOwned: 2 },
        {
          claims: { sub: 'user-9' },
          status: 500,
          code: 'PCL_RESPONSE_REJECTED',
          notOwned: 3,
        },
      ],
    },
    {
      name: "owner: mode 'reject' serves a list that is all the principal's",
      guard: {
        authenticated: true,
        response: { allow: byOwner, owner: { ...owner, mode: 'reject' } },
      },
      body: history('user-1'),
      requests: [{ claims: user, status: 200, body: kept([0, 'user-1']), notOwned: 0 }],
    },
    {
      name: 'owner: a function alone checks the elements of a top-level array, as they leave',
      guard: {
        authenticated: true,
        response: {
          allow: ['[].id', '[].tenant'],
          owner: (item, principal) =>
            (item as { tenant?: unknown }).tenant === principal.claims.tenant,
        },
      },
      body: [
        { id: 1, tenant: 't1', secret: 's' },
        { id: 2, tenant: 't2' },
      ],
      requests: [
        {
          claims: { ...user, tenant: 't2' },
          status: 200,
          body: [{ id: 2, tenant: 't2' }],
          notOwned: 1,
        },
      ],
    },
    {
      name: 'owner: a check that answers anything but true owns nothing; one that throws refuses',
      guard: {
        authenticated: true,
        response: {
          allow: ['items[].id'],
          owner: {
            path: 'items[]',
            check: (item, principal) => {
              if (principal.claims.boom === true) throw new Error('db down')
              return ((item as { id: number }).id === 1 ? 1 : true) as boolean
            },
          },
        },
      },
      body: { items: [{ id: 1 }, { id: 2 }] },
      requests: [
        { claims: user, status: 200, body: { items: [{ id: 2 }] }, notOwned: 1 },
        { claims: { ...user, boom: true }, status: 500, code: 'PCL_RESPONSE_REJECTED' },
      ],
    },
    {
      name: 'owner: an anonymous caller of a public route owns nothing',
      guard: { public: 'shared feed', response: { allow: byOwner, owner } },
      body: history('user-1', 'user-2'),
      requests: [{ claims: null, status: 200, body: { items: [] }, notOwned: 2 }],
    },
    {
      name: 'owner: byStatus lists that keep the array are checked too; byScope fields still apply',
      guard: {
        authenticated: true,
        response: {
          allow: byOwner,
          byScope: { 'history:internal': ['items[].secret'] },
          byStatus: { '206': ['items[].ownerId', 'next'] },
          owner,
        },
      },
      status: 206,
      body: { ...history('user-2', 'user-1'), next: 'c2' },
      requests: [
        {
          claims: user,
          status: 206,
          body: { items: [{ ownerId: 'user-1' }], next: 'c2' },
          notOwned: 1,
        },
      ],
    },
    {
      name: 'owner: byScope fields on a success list, the owner still checked',
      guard: {
        authenticated: true,
        response: { allow: byOwner, byScope: { 'history:internal': ['items[].secret'] }, owner },
      },
      body: history('user-2', 'user-1'),
      requests: [
        {
          claims: { ...user, scope: 'history:internal' },
          status: 200,
          body: { items: [{ id: 1, ownerId: 'user-1', secret: 's' }] },
          notOwned: 1,
        },
      ],
    },
  ]
}
