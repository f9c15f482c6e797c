// Access decisions, shared by the adapters' suites (test/fastify/policy.test.ts and
// test/express/access.test.ts) so that both are held to one list. Each case is one route (path
// template and guard) and the requests made to it with a fresh token for the given claims
// (`null`: no token). The apps answer challenges with realm "test".
import type { RouteGuard } from '@portcullis/core'

type Claims = Record<string, unknown>

/** One request to a case's route and how it must be answered. */
export interface AccessRequest {
  readonly url: string
  readonly claims: Claims | null
  readonly status: number
  /** The problem+json `code` of a refusal. */
  readonly code?: string
  /** The exact `WWW-Authenticate` header; `null` to require none. */
  readonly challenge?: string | null
}

export interface AccessCase {
  readonly name: string
  readonly path: string
  readonly guard: RouteGuard
  readonly requests: readonly AccessRequest[]
  /** Strings no response of the case may hold (what a denial must not reveal). */
  readonly hidden?: readonly string[]
}

const reader = { sub: 'user-1', client_id: 'search-svc', scope: 'videos:read' }
const good = { ...reader, tenant: 'acme' }
const moderator = {
  sub: 'u',
  org: 'acme',
  tier: 'gold',
  region: 'eu',
  groups: ['staff', 'moderators'],
}

const SILVER = 'urn:mace:incommon:iap:silver'
const GOLD = 'urn:mace:incommon:iap:gold'
/** `auth_time` of an authentication `seconds` ago (negative: in the future). */
function ago(seconds: number): number {
  return Math.floor(Date.now() / 1000) - seconds
}

const stepUp401 = { status: 401, code: 'PCL_INSUFFICIENT_AUTHENTICATION' } as const
const scope403 = { status: 403, code: 'PCL_INSUFFICIENT_SCOPE' } as const
const caller403 = { status: 403, code: 'PCL_CALLER_NOT_ALLOWED', challenge: null } as const
const claim403 = { status: 403, code: 'PCL_CLAIM_MISMATCH', challenge: null } as const
const check403 = { status: 403, code: 'PCL_CHECK_DENIED', challenge: null } as const

export const accessCases: readonly AccessCase[] = [
  {
    name: 'scopes: all listed are required; a missing one is 403 insufficient_scope naming them',
    path: '/v',
    guard: { scopes: ['videos:read', 'videos:list'] },
    requests: [
      { url: '/v', claims: { sub: 'u', scope: 'videos:list videos:read extra' }, status: 200 },
      {
        url: '/v',
        claims: { sub: 'u', scope: 'videos:read' },
        ...scope403,
        challenge:
          'Bearer realm="test", error="insufficient_scope", error_description="Insufficient scope", scope="videos:read videos:list"',
      },
    ],
  },
  {
    name: 'scopes: a single scope string; scp grants nothing unless the issuer says so',
    path: '/v',
    guard: { scopes: 'videos:read' },
    requests: [
      { url: '/v', claims: { sub: 'u', scope: 'videos:read' }, status: 200 },
      { url: '/v', claims: { sub: 'u', scp: ['videos:read'] }, ...scope403 },
      { url: '/v', claims: { sub: 'u', scp: 'videos:read' }, ...scope403 },
      { url: '/v', claims: { sub: 'u' }, ...scope403 },
    ],
  },
  {
    name: 'scopes: { allOf, anyOf } needs all of allOf and one of anyOf',
    path: '/v',
    guard: { scopes: { allOf: ['a'], anyOf: ['b', 'c'] } },
    requests: [
      { url: '/v', claims: { sub: 'u', scope: 'a c' }, status: 200 },
      {
        url: '/v',
        claims: { sub: 'u', scope: 'a' },
        ...scope403,
        challenge:
          'Bearer realm="test", error="insufficient_scope", error_description="Insufficient scope", scope="a b c"',
      },
      { url: '/v', claims: { sub: 'u', scope: 'b c' }, ...scope403 },
    ],
  },
  {
    name: 'scopes: compared exactly, no case folding, no lookalikes',
    path: '/v',
    guard: { scopes: ['videos:read'] },
    requests: [
      { url: '/v', claims: { sub: 'u', scope: 'VIDEOS:READ' }, ...scope403 },
      // A Cyrillic 'е' (U+0435) in place of the Latin 'e'.
      { url: '/v', claims: { sub: 'u', scope: 'vid\u0435os:read' }, ...scope403 },
    ],
  },
  {
    name: 'callers: only listed client ids; others, and tokens without a client, get 403',
    path: '/internal',
    guard: { callers: ['search-svc', 'player-svc'] },
    hidden: ['search-svc', 'player-svc'],
    requests: [
      { url: '/internal', claims: { sub: 'u', client_id: 'player-svc' }, status: 200 },
      { url: '/internal', claims: { sub: 'u', azp: 'search-svc' }, status: 200 },
      { url: '/internal', claims: { sub: 'u', client_id: 'billing-svc' }, ...caller403 },
      { url: '/internal', claims: { sub: 'u' }, ...caller403 },
    ],
  },
  {
    name: 'claims: BOLA, a claim must equal the route parameter',
    path: '/v1/users/:userId/history',
    guard: { claims: { sub: { param: 'userId' } } },
    hidden: ['user-7'],
    requests: [
      { url: '/v1/users/user-7/history', claims: { sub: 'user-7' }, status: 200 },
      { url: '/v1/users/user-8/history', claims: { sub: 'user-7' }, ...claim403 },
    ],
  },
  {
    name: 'claims: a parameter is compared exactly: no case folding, no trimming, no prefix',
    path: '/v1/users/:userId/history',
    guard: { claims: { sub: { param: 'userId' } } },
    hidden: ['user-7'],
    requests: [
      { url: '/v1/users/USER-7/history', claims: { sub: 'user-7' }, ...claim403 },
      { url: '/v1/users/user-7/history', claims: { sub: 'USER-7' }, ...claim403 },
      { url: '/v1/users/User-7/history', claims: { sub: 'user-7' }, ...claim403 },
      { url: '/v1/users/user-7%20/history', claims: { sub: 'user-7' }, ...claim403 },
      { url: '/v1/users/user-70/history', claims: { sub: 'user-7' }, ...claim403 },
      { url: '/v1/users/user-/history', claims: { sub: 'user-7' }, ...claim403 },
      { url: '/v1/users/user-7/history', claims: { sub: 'user-7' }, status: 200 },
    ],
  },
  {
    name: 'claims: a route parameter, never a query parameter of the same name',
    path: '/t/:tenantId',
    guard: { claims: { tenant: { param: 'tenantId' } } },
    hidden: ['acme'],
    requests: [
      { url: '/t/globex?tenantId=acme', claims: { sub: 'u', tenant: 'acme' }, ...claim403 },
      {
        url: '/t/globex?tenantId=acme&tenantId=acme',
        claims: { sub: 'u', tenant: 'acme' },
        ...claim403,
      },
      { url: '/t/acme?tenantId=globex', claims: { sub: 'u', tenant: 'acme' }, status: 200 },
    ],
  },
  {
    name: 'claims: a parameter matches a string claim only; a number claim is another value',
    path: '/t/:tenantId',
    guard: { claims: { tenant: { param: 'tenantId' } } },
    requests: [
      { url: '/t/42', claims: { sub: 'u', tenant: '42' }, status: 200 },
      { url: '/t/42', claims: { sub: 'u', tenant: 42 }, ...claim403 },
      // Without numeric: true, no spelling of 42 matches the number 42.
      ...['042', '4.2e1', '0x2a', '42.0', '%2042'].map((text) => ({
        url: `/t/${text}`,
        claims: { sub: 'u', tenant: 42 },
        ...claim403,
      })),
      { url: '/t/42', claims: { sub: 'u', tenant: [42] }, ...claim403 },
      { url: '/t/42', claims: { sub: 'u', tenant: [' 42'] }, ...claim403 },
      { url: '/t/42', claims: { sub: 'u', tenant: { id: 42 } }, ...claim403 },
      { url: '/t/true', claims: { sub: 'u', tenant: true }, ...claim403 },
      { url: '/t/42', claims: { sub: 'u' }, ...claim403 },
    ],
  },
  {
    name: 'claims: numeric: true also matches a number claim by its decimal form',
    path: '/n/:tenantId',
    guard: {
      claims: {
        tenant: { param: 'tenantId', numeric: true },
        org: { query: 'org', numeric: true },
      },
    },
    requests: [
      { url: '/n/42?org=7', claims: { sub: 'u', tenant: 42, org: 7 }, status: 200 },
      { url: '/n/42?org=7', claims: { sub: 'u', tenant: '42', org: '7' }, status: 200 },
      { url: '/n/042?org=7', claims: { sub: 'u', tenant: 42, org: 7 }, ...claim403 },
      { url: '/n/42.0?org=7', claims: { sub: 'u', tenant: 42, org: 7 }, ...claim403 },
      // The decimal form is String(claim): no other spelling of the number matches.
      ...['4.2e1', '0x2a', '+42', '42%20', '0042', '42.'].map((text) => ({
        url: `/n/${text}?org=7`,
        claims: { sub: 'u', tenant: 42, org: 7 },
        ...claim403,
      })),
      ...['07', '7e0', '0x7', '7.0'].map((text) => ({
        url: `/n/42?org=${text}`,
        claims: { sub: 'u', tenant: 42, org: 7 },
        ...claim403,
      })),
      // A string claim stays compared as text: '42' does not match 042.
      { url: '/n/042?org=7', claims: { sub: 'u', tenant: '42', org: '7' }, ...claim403 },
      // A number that is not an integer has one decimal form too.
      { url: '/n/4.5?org=7', claims: { sub: 'u', tenant: 4.5, org: 7 }, status: 200 },
      { url: '/n/4.50?org=7', claims: { sub: 'u', tenant: 4.5, org: 7 }, ...claim403 },
      { url: '/n/42?org=7.0', claims: { sub: 'u', tenant: 42, org: 7 }, ...claim403 },
      { url: '/n/42?org=7', claims: { sub: 'u', tenant: [42], org: 7 }, ...claim403 },
      { url: '/n/42?org=7', claims: { sub: 'u', tenant: true, org: 7 }, ...claim403 },
    ],
  },
  {
    name: 'claims: query values, equality, oneOf and contains',
    path: '/q',
    guard: {
      claims: {
        org: { query: 'org' },
        tier: 'gold',
        region: { oneOf: ['eu', 'us'] },
        groups: { contains: 'moderators' },
      },
    },
    requests: [
      { url: '/q?org=acme', claims: moderator, status: 200 },
      { url: '/q?org=globex', claims: moderator, ...claim403 },
      // An empty claim never matches an empty value.
      { url: '/q?org=', claims: { ...moderator, org: '' }, ...claim403 },
      { url: '/q?org=acme&org=acme', claims: moderator, ...claim403 },
      { url: '/q', claims: moderator, ...claim403 },
      { url: '/q?org=acme', claims: { ...moderator, tier: 'silver' }, ...claim403 },
      { url: '/q?org=acme', claims: { ...moderator, region: 'apac' }, ...claim403 },
      { url: '/q?org=acme', claims: { ...moderator, groups: ['staff'] }, ...claim403 },
      { url: '/q?org=acme', claims: { ...moderator, groups: 'moderators' }, ...claim403 },
    ],
  },
  {
    name: 'check: runs after the declarative rules; only true allows',
    path: '/c/:id',
    guard: {
      scopes: ['videos:read'],
      check: (principal, request) => (request.params as { id: string }).id === principal.subject,
    },
    requests: [
      { url: '/c/u1', claims: { sub: 'u1' }, ...scope403 },
      { url: '/c/u1', claims: { sub: 'u1', scope: 'videos:read' }, status: 200 },
      { url: '/c/u2', claims: { sub: 'u1', scope: 'videos:read' }, ...check403 },
    ],
  },
  {
    name: 'check: async checks allow on true',
    path: '/a',
    guard: { check: async (principal) => principal.subject === 'ok' },
    requests: [
      { url: '/a', claims: { sub: 'ok' }, status: 200 },
      { url: '/a', claims: { sub: 'nope' }, ...check403 },
    ],
  },
  {
    name: 'check: a truthy answer that is not true denies (fail closed)',
    path: '/b',
    guard: { check: (() => 1) as never },
    requests: [{ url: '/b', claims: { sub: 'ok' }, ...check403 }],
  },
  {
    name: 'check: null, undefined or a string denies (fail closed)',
    path: '/n',
    guard: {
      check: ((p: { subject: string }) => (p.subject === 'null' ? null : undefined)) as never,
    },
    requests: [
      { url: '/n', claims: { sub: 'null' }, ...check403 },
      { url: '/n', claims: { sub: 'other' }, ...check403 },
    ],
  },
  {
    name: 'check: one that throws is a 403 that leaks nothing',
    path: '/t',
    guard: {
      check: () => {
        throw new Error('db password=hunter2')
      },
    },
    hidden: ['hunter2'],
    requests: [{ url: '/t', claims: { sub: 'u' }, ...check403 }],
  },
  {
    name: 'check: one that rejects is a 403 that leaks nothing',
    path: '/r',
    guard: { check: () => Promise.reject(new Error('hunter2')) },
    hidden: ['hunter2'],
    requests: [{ url: '/r', claims: { sub: 'u' }, ...check403 }],
  },
  {
    name: 'scopes, callers, claims and check together: each can deny, all must pass',
    path: '/t/:tenantId/videos',
    guard: {
      scopes: ['videos:read'],
      callers: ['search-svc'],
      claims: { tenant: { param: 'tenantId' } },
      check: (p) => !p.scopes.has('suspended'),
    },
    requests: [
      { url: '/t/acme/videos', claims: good, status: 200 },
      { url: '/t/acme/videos', claims: { ...good, scope: '' }, ...scope403 },
      { url: '/t/acme/videos', claims: { ...good, client_id: 'other' }, ...caller403 },
      { url: '/t/acme/videos', claims: { ...good, tenant: 'globex' }, ...claim403 },
      { url: '/t/acme/videos', claims: { ...good, scope: 'videos:read suspended' }, ...check403 },
    ],
  },
  {
    name: 'step-up acr (RFC 9470): an acr outside the list is 401 insufficient_user_authentication with acr_values',
    path: '/s',
    guard: { scopes: ['videos:read'], acr: [SILVER, GOLD] },
    hidden: ['bronze-acr'],
    requests: [
      { url: '/s', claims: { ...reader, acr: SILVER }, status: 200 },
      { url: '/s', claims: { ...reader, acr: GOLD }, status: 200 },
      {
        url: '/s',
        claims: { ...reader, acr: 'bronze-acr' },
        ...stepUp401,
        challenge: `Bearer realm="test", error="insufficient_user_authentication", error_description="Stronger or more recent authentication required", acr_values="${SILVER} ${GOLD}"`,
      },
      { url: '/s', claims: reader, ...stepUp401 },
      // Never coerced: an array holding the value, or a different case, is not the value.
      { url: '/s', claims: { ...reader, acr: [SILVER] }, ...stepUp401 },
      { url: '/s', claims: { ...reader, acr: SILVER.toUpperCase() }, ...stepUp401 },
      // Scope is decided first: stepping up would not help a token without the scope.
      { url: '/s', claims: { sub: 'u', acr: 'bronze-acr' }, ...scope403 },
    ],
  },
  {
    name: 'step-up maxAuthAge (RFC 9470): auth_time missing, too old or in the future is 401 with max_age',
    path: '/m',
    guard: { authenticated: true, maxAuthAge: '15 minutes' },
    requests: [
      { url: '/m', claims: { sub: 'u', auth_time: ago(60) }, status: 200 },
      {
        url: '/m',
        claims: { sub: 'u', auth_time: ago(3600) },
        ...stepUp401,
        challenge:
          'Bearer realm="test", error="insufficient_user_authentication", error_description="Stronger or more recent authentication required", max_age="900"',
      },
      { url: '/m', claims: { sub: 'u' }, ...stepUp401 },
      { url: '/m', claims: { sub: 'u', auth_time: String(ago(60)) }, ...stepUp401 },
      { url: '/m', claims: { sub: 'u', auth_time: ago(-3600) }, ...stepUp401 },
    ],
  },
  {
    name: 'step-up acr and maxAuthAge together: the challenge asks for both',
    path: '/b',
    guard: { acr: [GOLD], maxAuthAge: 300 },
    requests: [
      { url: '/b', claims: { sub: 'u', acr: GOLD, auth_time: ago(10) }, status: 200 },
      {
        url: '/b',
        claims: { sub: 'u', acr: GOLD, auth_time: ago(600) },
        ...stepUp401,
        challenge: `Bearer realm="test", error="insufficient_user_authentication", error_description="Stronger or more recent authentication required", acr_values="${GOLD}", max_age="300"`,
      },
      { url: '/b', claims: { sub: 'u', acr: SILVER, auth_time: ago(10) }, ...stepUp401 },
    ],
  },
  {
    name: 'a missing token is 401 before any policy rule',
    path: '/v',
    guard: { scopes: ['videos:read'] },
    requests: [
      {
        url: '/v',
        claims: null,
        status: 401,
        code: 'PCL_TOKEN_MISSING',
        challenge: 'Bearer realm="test"',
      },
    ],
  },
]

/** A route guard that is invalid, and the field the startup error must name. */
export interface InvalidGuardCase {
  readonly name: string
  readonly guard: unknown
  readonly field: string
}

/**
 * Guards refused at startup, on a route `GET /v1/things/:id` (whose one parameter is `id`).
 * Fastify refuses them at `app.ready()`; Express at `guard(...)`, or at `seal` for what depends
 * on the route.
 */
export const invalidGuardCases: readonly InvalidGuardCase[] = [
  { name: 'an empty guard', guard: {}, field: 'guard' },
  { name: 'an empty public reason', guard: { public: '' }, field: 'guard.public' },
  { name: 'an unknown key', guard: { scope: ['videos:read'] }, field: 'guard.scope' },
  { name: 'a guard that is not an object', guard: 'public', field: 'guard' },
  { name: 'a guard that is null', guard: null, field: 'guard' },
  {
    name: 'an unknown scope form',
    guard: { scopes: { oneOf: ['a'] } },
    field: 'guard.scopes.oneOf',
  },
  { name: 'an empty anyOf', guard: { scopes: { anyOf: [] } }, field: 'guard.scopes.anyOf' },
  { name: 'an empty scope list', guard: { scopes: [] }, field: 'guard.scopes' },
  { name: 'a scope with a space', guard: { scopes: ['videos read'] }, field: 'guard.scopes[0]' },
  { name: 'a lookalike scope', guard: { scopes: ['vid\u0435os:read'] }, field: 'guard.scopes[0]' },
  { name: 'an empty caller list', guard: { callers: [] }, field: 'guard.callers' },
  { name: 'an empty claims object', guard: { claims: {} }, field: 'guard.claims' },
  {
    name: 'a claim on a parameter the route lacks',
    guard: { claims: { sub: { param: 'userId' } } },
    field: 'guard.claims.sub.param',
  },
  {
    name: 'numeric that is not `true`',
    guard: { claims: { sub: { query: 'user', numeric: 'yes' } } },
    field: 'guard.claims.sub.numeric',
  },
  {
    name: 'an unknown claim matcher',
    guard: { claims: { sub: { regex: '.*' } } },
    field: 'guard.claims.sub',
  },
  { name: 'a check that is not a function', guard: { check: 'isOwner' }, field: 'guard.check' },
  { name: 'an empty acr list', guard: { acr: [] }, field: 'guard.acr' },
  { name: 'an acr value with a space', guard: { acr: ['a b'] }, field: 'guard.acr[0]' },
  { name: 'an acr that is a string', guard: { acr: 'gold' }, field: 'guard.acr' },
  { name: 'a maxAuthAge of zero', guard: { maxAuthAge: 0 }, field: 'guard.maxAuthAge' },
  {
    name: 'a maxAuthAge that is no duration',
    guard: { maxAuthAge: 'soon' },
    field: 'guard.maxAuthAge',
  },
  {
    name: 'a maxAuthAge in fractions of a second',
    guard: { maxAuthAge: '1.5s' },
    field: 'guard.maxAuthAge',
  },
  {
    name: 'a public route that also requires step-up',
    guard: { public: 'probe', acr: ['gold'] },
    field: 'guard.public',
  },
  {
    name: 'a public route that also requires a scope',
    guard: { public: 'probe', scopes: ['a'] },
    field: 'guard.public',
  },
]
