// Token cases, shared by the adapters' suites (test/fastify/tokens.test.ts and
// test/express/tokens.test.ts) so that both are held to one list. Each app trusts two issuers
// (`issuer`, through its JWKS URL, and `other`, through a JWKS object), answers challenges with
// realm "videos", keeps the JWKS for a 30 s cooldown, and serves `GET /v1/videos/:id` and
// `GET /v1/me` (`{ authenticated: true }`), `GET /v1/events` (`{ authenticated: true,
// queryToken: true }`) and `GET /healthz` (public).
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { AuditEvent } from '@portcullis/core'
import {
  bearer,
  buildPayload,
  createTestIssuer,
  createTestKey,
  rawToken,
  signToken,
  type TestIssuer,
} from '@portcullis/testing'
import { SignJWT } from 'jose'
import { expect } from 'vitest'
import { expectRefusedRequest, type CaseReply } from './checks.js'

/** The issuers a case mints with. */
export interface Issuers {
  readonly issuer: TestIssuer
  readonly other: TestIssuer
}

/**
 * Starts the two issuers every token suite trusts: `issuer` serving its JWKS on loopback (at
 * `jwksUri`), `other` trusted through its JWKS object. Close them with `closeIssuers`.
 */
export async function startIssuers(): Promise<Issuers & { readonly jwksUri: string }> {
  const issuer = await createTestIssuer({ issuer: 'https://auth.one.test', audience: 'videos-api' })
  const other = await createTestIssuer({ issuer: 'https://auth.two.test', audience: 'videos-api' })
  return { issuer, other, jwksUri: await issuer.listen() }
}

export async function closeIssuers(issuers: Issuers): Promise<void> {
  await Promise.all([issuers.issuer.close(), issuers.other.close()])
}

/** How a refused request must be answered. */
export interface Refusal {
  readonly status: number
  readonly code: string
  /** The exact form of `WWW-Authenticate`, or `undefined` for none. */
  readonly challenge: RegExp | undefined
}

export const INVALID_TOKEN =
  /^Bearer realm="videos", error="invalid_token", error_description="[^"]+"$/

export const INVALID_REQUEST =
  /^Bearer realm="videos", error="invalid_request", error_description="[^"]+"$/

export const invalid: Refusal = { status: 401, code: 'PCL_TOKEN_INVALID', challenge: INVALID_TOKEN }

/** A token the guard must refuse, on a route that needs any verified token. */
export interface TokenCase {
  readonly name: string
  readonly token: (issuers: Issuers) => Promise<string> | string
  readonly expect: Refusal
  /** Token options the app needs for this case, beside its issuers. */
  readonly tokens?: Readonly<Record<string, unknown>>
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

function unsigned(issuer: TestIssuer, alg: string): string {
  const payload = { iss: issuer.issuer, aud: 'videos-api', sub: 'attacker', exp: 9_999_999_999 }
  return rawToken({ alg, typ: 'at+jwt', kid: issuer.kid }, payload)
}

async function advertisedKey(issuer: TestIssuer, param: string): Promise<string> {
  const attacker = await createTestKey({ kid: 'attacker' })
  const value =
    param === 'jwk'
      ? attacker.jwk
      : param === 'x5c'
        ? ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA']
        : 'http://127.0.0.1:1/attacker-jwks.json'
  const claims = buildPayload(
    { issuer: issuer.issuer, audience: 'videos-api' },
    { sub: 'attacker' },
  )
  return signToken(attacker, claims, { typ: 'at+jwt', [param]: value })
}

/** Forged and confused tokens: all 401 `invalid_token`. */
export const forgedTokenCases: readonly TokenCase[] = [
  ...['none', 'None', 'NONE', 'nOnE'].flatMap((alg): TokenCase[] => [
    {
      name: `alg: ${alg} (unsigned)`,
      token: ({ issuer }) => unsigned(issuer, alg),
      expect: invalid,
    },
    {
      name: `alg: ${alg} with a junk signature`,
      token: ({ issuer }) => `${unsigned(issuer, alg)}AAAA`,
      expect: invalid,
    },
  ]),
  {
    name: 'HS256 signed with the public key of an ES256 issuer',
    token: ({ issuer }) => issuer.bad.hs256WithPublicKey({ sub: 'attacker' }),
    expect: invalid,
  },
  {
    name: 'a valid signature from an unconfigured key',
    token: ({ issuer }) => issuer.bad.wrongKey({ sub: 'attacker' }),
    expect: invalid,
  },
  ...['jwk', 'jku', 'x5u', 'x5c'].map((param): TokenCase => ({
    name: `a key advertised in the \`${param}\` header is never used`,
    token: ({ issuer }) => advertisedKey(issuer, param),
    expect: invalid,
  })),
  {
    name: 'an unknown critical header (RFC 7515 §4.1.11)',
    token: ({ issuer }) => issuer.token({ sub: 'user-1' }, { crit: ['x-unknown'], 'x-unknown': 1 }),
    expect: invalid,
  },
  {
    name: 'a token of one issuer signed with the other issuer’s key',
    token: ({ issuer, other }) => other.token({ sub: 'user-1', iss: issuer.issuer }),
    expect: invalid,
  },
  {
    name: 'a token of an unconfigured issuer',
    token: ({ issuer }) => issuer.token({ sub: 'x', iss: 'https://evil.test' }),
    expect: invalid,
  },
]

/** Tokens whose claims do not hold. */
export const claimTokenCases: readonly TokenCase[] = [
  {
    name: 'expired is PCL_TOKEN_EXPIRED',
    token: ({ issuer }) => issuer.bad.expired(),
    expect: { status: 401, code: 'PCL_TOKEN_EXPIRED', challenge: INVALID_TOKEN },
  },
  { name: 'not yet valid', token: ({ issuer }) => issuer.bad.notYetValid(), expect: invalid },
  {
    name: 'issued in the future (iat), beyond the clock tolerance',
    token: ({ issuer }) => issuer.token({ sub: 'u', iat: Math.floor(Date.now() / 1000) + 3600 }),
    expect: invalid,
  },
  { name: 'wrong audience', token: ({ issuer }) => issuer.bad.wrongAudience(), expect: invalid },
  { name: 'wrong issuer', token: ({ issuer }) => issuer.bad.wrongIssuer(), expect: invalid },
  {
    name: 'no exp',
    token: ({ issuer }) => issuer.token({ sub: 'user-1', exp: undefined, expiresIn: undefined }),
    expect: invalid,
  },
  { name: 'no sub', token: ({ issuer }) => issuer.token({ sub: undefined }), expect: invalid },
]

/** Malformed and oversized tokens: refused, never a 500. */
export const malformedTokenCases: readonly TokenCase[] = [
  ...(
    [
      ['two segments', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0'],
      ['four segments', 'a.b.c.d'],
      ['bad base64 in header', '!!!.eyJzdWIiOiJ4In0.c2ln'],
      ['header that is not JSON', `${Buffer.from('not json').toString('base64url')}.e30.c2ln`],
      [
        'payload that is not JSON',
        `${b64url({ alg: 'ES256' })}.${Buffer.from('{').toString('base64url')}.c2ln`,
      ],
    ] as const
  ).map(([name, token]): TokenCase => ({ name, token: () => token, expect: invalid })),
  {
    name: 'a token above maxTokenBytes is refused before parsing',
    token: ({ issuer }) => issuer.token({ sub: 'u', padding: 'x'.repeat(2000) }),
    expect: { status: 401, code: 'PCL_TOKEN_TOO_LARGE', challenge: INVALID_TOKEN },
    tokens: { maxTokenBytes: 1024 },
  },
]

/** An `Authorization` header that is not one well-formed Bearer credential. */
export interface HeaderCase {
  readonly name: string
  readonly authorization: string
  readonly expect: Refusal
}

export const malformedHeaderCases: readonly HeaderCase[] = [
  { name: 'Bearer with no token', authorization: 'Bearer', expect: invalid },
  { name: 'two tokens', authorization: 'Bearer a.b.c d.e.f', expect: invalid },
  { name: 'two spaces', authorization: 'Bearer  a.b.c', expect: invalid },
  { name: 'invalid characters', authorization: 'Bearer a.b.c!', expect: invalid },
  ...(
    [
      ['a colon after the scheme', 'Bearer:a.b.c'],
      ['an equals sign after the scheme', 'Bearer=a.b.c'],
      ['a comma after the scheme', 'bearer,a.b.c'],
      ['a tab after the scheme', 'Bearer\ta.b.c'],
      ['a no-break space after the scheme', 'Bearer\u00a0a.b.c'],
    ] as const
  ).map(([what, authorization]): HeaderCase => ({
    name: `${what}: 400 invalid_request, not a missing token (RFC 6750 §3.1)`,
    authorization,
    expect: { status: 400, code: 'PCL_INVALID_REQUEST', challenge: INVALID_REQUEST },
  })),
  {
    name: 'another scheme counts as no token: 401 without an error code (RFC 6750 §3.1)',
    authorization: 'Basic dXNlcjpwYXNz',
    expect: { status: 401, code: 'PCL_TOKEN_MISSING', challenge: /^Bearer realm="videos"$/ },
  },
]

/** Tokens refused by the `isRevoked` option: revoked (401), or a check that fails (503). */
export const revocationCases: readonly TokenCase[] = [
  {
    name: 'a revoked token is 401',
    token: ({ issuer }) => issuer.token({ sub: 'user-1' }),
    expect: { status: 401, code: 'PCL_TOKEN_REVOKED', challenge: INVALID_TOKEN },
    tokens: { isRevoked: () => true },
  },
  {
    name: 'a revocation check that throws is 503, never an accepted token',
    token: ({ issuer }) => issuer.token({ sub: 'user-1' }),
    expect: { status: 503, code: 'PCL_REVOCATION_UNAVAILABLE', challenge: undefined },
    tokens: {
      isRevoked: () => {
        throw new Error('revocation store down')
      },
    },
  },
  {
    name: 'a revocation check that rejects is 503',
    token: ({ issuer }) => issuer.token({ sub: 'user-1' }),
    expect: { status: 503, code: 'PCL_REVOCATION_UNAVAILABLE', challenge: undefined },
    tokens: { isRevoked: () => Promise.reject(new Error('revocation store down')) },
  },
]

/**
 * A token in the query string (RFC 6750 §2.3). The apps serve `/v1/videos/:id` (no query
 * tokens), `/healthz` (public) and `/v1/events` (`{ authenticated: true, queryToken: true }`).
 */
export interface QueryTokenCase {
  readonly name: string
  readonly url: (token: string) => string
  /** Send the token in an Authorization header as well. */
  readonly withHeader?: boolean
  /** Mint a token no issuer signed. */
  readonly forged?: boolean
  readonly status: number
  readonly code?: string
}

export const queryTokenCases: readonly QueryTokenCase[] = [
  ...[
    ['a guarded route', (t: string) => `/v1/videos/1?access_token=${t}`],
    ['a public route', (t: string) => `/healthz?x=1&access_token=${t}`],
    ['an unknown URL', (t: string) => `/nowhere?access_token=${t}`],
  ].map(([where, url]): QueryTokenCase => ({
    name: `refused with 400 invalid_request on ${where as string}`,
    url: url as (token: string) => string,
    status: 400,
    code: 'PCL_INVALID_REQUEST',
  })),
  ...[
    ['access%5Ftoken', '/v1/videos/1'],
    ['access%5ftoken', '/healthz'],
    ['%61ccess_token', '/nowhere'],
  ].map(([name, path]): QueryTokenCase => ({
    name: `a percent-encoded name (${name}) is the same parameter: 400 on ${path}`,
    url: (t: string) => `${path}?${name}=${t}`,
    status: 400,
    code: 'PCL_INVALID_REQUEST',
  })),
  {
    name: 'accepted on a route that opts in',
    url: (t) => `/v1/events?access_token=${t}`,
    status: 200,
  },
  {
    name: 'accepted under a percent-encoded name on a route that opts in',
    url: (t) => `/v1/events?access%5Ftoken=${t}`,
    status: 200,
  },
  {
    name: 'refused when sent twice under two spellings of the name',
    url: (t) => `/v1/events?access_token=${t}&access%5Ftoken=${t}`,
    status: 400,
    code: 'PCL_INVALID_REQUEST',
  },
  {
    name: 'refused when sent twice',
    url: (t) => `/v1/events?access_token=${t}&access_token=${t}`,
    status: 400,
    code: 'PCL_INVALID_REQUEST',
  },
  {
    name: 'refused beside an Authorization header (RFC 6750 §2: one method only)',
    url: (t) => `/v1/events?access_token=${t}`,
    withHeader: true,
    status: 400,
    code: 'PCL_INVALID_REQUEST',
  },
  {
    name: 'a forged one is 401 even where accepted',
    url: (t) => `/v1/events?access_token=${t}`,
    forged: true,
    status: 401,
    code: 'PCL_TOKEN_INVALID',
  },
]

/** The bytes of a request carrying two Authorization headers (fetch will not send that). */
export function duplicateAuthorization(token: string): string {
  return (
    `GET /v1/videos/1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n` +
    `Authorization: Bearer ${token}\r\nConnection: close\r\n\r\n`
  )
}

/** An app of a token suite, as the shared scenarios drive it. */
export interface TokenApp {
  /** A GET request to `url` with `headers`. */
  readonly get: (url: string, headers?: Record<string, string>) => Promise<CaseReply>
  readonly events: readonly AuditEvent[]
  readonly logs: readonly string[]
  /** How many times a handler ran. */
  readonly runs: () => number
}

/** What a suite gives the shared scenarios: the issuers, and apps built the suite's way. */
export interface TokenSuite extends Issuers {
  readonly jwksUri: string
  /** Builds an app (see the top of this file) with `tokens` over its token options. */
  readonly app: (tokens?: Readonly<Record<string, unknown>>) => Promise<TokenApp>
}

/** A case that needs more than one request: several tokens, a JWKS outage, a rotation. */
export interface TokenScenario {
  readonly name: string
  run(suite: TokenSuite): Promise<void>
}

/** `issuer`'s entry in the apps' token options, with `extra` over it. */
function trusted(issuer: TestIssuer, jwksUri: string, extra: Record<string, unknown> = {}) {
  return { issuer: issuer.issuer, audience: 'videos-api', algorithms: ['ES256'], jwksUri, ...extra }
}

/** A test issuer serving its JWKS on loopback, closed once `run` settles. */
async function withServedIssuer(
  name: string,
  run: (issuer: TestIssuer, jwksUri: string) => Promise<void>,
): Promise<void> {
  const issuer = await createTestIssuer({
    issuer: `https://auth.${name}.test`,
    audience: 'videos-api',
  })
  try {
    await run(issuer, await issuer.listen())
  } finally {
    await issuer.close()
  }
}

async function expectServed(app: TokenApp, token: string, sub: string, scheme = 'Bearer') {
  const reply = await app.get('/v1/videos/1', { authorization: `${scheme} ${token}` })
  expect(reply.status, scheme).toBe(200)
  expect(JSON.parse(reply.body)).toEqual({ id: '1', sub })
}

/** A token for `iss` signed with a Node KeyObject under `alg` (jose signs any alg of its type). */
function signedWith(privateKey: KeyObject, iss: string, alg: string): Promise<string> {
  return new SignJWT(buildPayload({ issuer: iss, audience: 'videos-api' }, { sub: 'u' }))
    .setProtectedHeader({ alg })
    .sign(privateKey)
}

export const tokenScenarios: readonly TokenScenario[] = [
  {
    name: 'algorithms is an allowlist even for keys without alg: a real PS256 or RS512 signature is refused by an RS256 issuer',
    async run({ app }) {
      // A KeyObject, and a JWK without `alg`, verify every RSA algorithm: jose's key selection
      // cannot refuse PS256 for them, only the issuer's `algorithms` can.
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
      const bare = { ...publicKey.export({ format: 'jwk' }), kid: 'rsa-bare' }
      const issuers = [
        { issuer: 'https://auth.ko.test', keys: [publicKey] },
        { issuer: 'https://auth.bare.test', jwks: { keys: [bare] } },
      ].map((entry) => ({ ...entry, audience: 'videos-api', algorithms: ['RS256'] }))
      const h = await app({ issuers })
      for (const { issuer } of issuers) {
        await expectServed(h, await signedWith(privateKey, issuer, 'RS256'), 'u')
        for (const alg of ['PS256', 'RS512']) {
          await expectRefusedRequest(h, await signedWith(privateKey, issuer, alg), invalid)
        }
      }
    },
  },
  {
    name: 'each issuer’s own tokens are accepted beside the refused ones',
    async run({ app, issuer, other }) {
      const h = await app()
      await expectServed(h, await issuer.token({ sub: 'a' }), 'a')
      await expectServed(h, await other.token({ sub: 'b' }), 'b')
    },
  },
  {
    name: 'the scheme is case-insensitive, for each issuer’s tokens',
    async run({ app, issuer, other }) {
      const h = await app()
      for (const [scheme, minter] of [
        ['Bearer', issuer],
        ['bearer', other],
        ['BEARER', issuer],
        ['BeArEr', other],
      ] as const) {
        await expectServed(
          h,
          await minter.token({ sub: 'user-1', scope: 'videos:read' }),
          'user-1',
          scheme,
        )
      }
    },
  },
  {
    name: 'an unconfigured issuer is refused without any JWKS request',
    async run({ app, issuer }) {
      const h = await app()
      const before = issuer.jwksRequests
      await expectRefusedRequest(
        h,
        await issuer.token({ sub: 'x', iss: 'https://evil.test' }),
        invalid,
      )
      expect(issuer.jwksRequests).toBe(before)
    },
  },
  {
    name: 'wrong typ is refused when the issuer requires at+jwt (RFC 9068)',
    async run({ app, issuer, jwksUri }) {
      const h = await app({ issuers: [trusted(issuer, jwksUri, { typ: 'at+jwt' })] })
      await expectRefusedRequest(h, await issuer.token({ sub: 'u' }, { typ: 'JWT' }), invalid)
      await expectServed(h, await issuer.token({ sub: 'u' }), 'u')
    },
  },
  {
    name: 'an issuer without typ is reported once at startup; typ or typ: false silences it',
    async run({ app, issuer, jwksUri }) {
      const warned = (logs: readonly string[]) =>
        logs.filter((line) => line.includes('sets no typ') && line.includes('ID token'))
      // The suite's own issuers set no typ: each is reported, once, naming its field.
      const bare = await app({ issuers: [trusted(issuer, jwksUri)] })
      expect(warned(bare.logs)).toHaveLength(1)
      expect(warned(bare.logs)[0]).toContain('tokens.issuers[0].typ')
      expect(warned(bare.logs)[0]).toContain('"level"')
      await expectServed(bare, await issuer.token({ sub: 'u' }), 'u')
      expect(warned(bare.logs)).toHaveLength(1)
      for (const typ of ['at+jwt', false]) {
        const set = await app({ issuers: [trusted(issuer, jwksUri, { typ })] })
        expect(warned(set.logs), String(typ)).toEqual([])
      }
      // typ: false accepts any typ, as no typ does.
      const any = await app({ issuers: [trusted(issuer, jwksUri, { typ: false })] })
      await expectServed(any, await issuer.token({ sub: 'u' }, { typ: 'JWT' }), 'u')
    },
  },
  {
    name: 'an invalid token on a public route is refused, not ignored',
    async run({ app, issuer }) {
      const h = await app()
      const expired = { status: 401, code: 'PCL_TOKEN_EXPIRED', challenge: INVALID_TOKEN }
      await expectRefusedRequest(h, await issuer.bad.expired(), expired, { url: '/healthz' })
    },
  },
  {
    name: 'a kid pointing at a missing key refetches the JWKS at most once per cooldown',
    async run({ app, issuer }) {
      const h = await app()
      // Warm the key set.
      await expectServed(h, await issuer.token({ sub: 'u' }), 'u')
      const before = issuer.jwksRequests
      for (let i = 0; i < 5; i++) {
        const token = await issuer.token({ sub: 'u' }, { kid: `missing-${i}` })
        await expectRefusedRequest(h, token, invalid)
      }
      expect(issuer.jwksRequests - before).toBeLessThanOrEqual(1)
    },
  },
  {
    name: 'an unreachable JWKS with no usable key is 503, distinct from invalid_token, and not hammered',
    async run({ app }) {
      await withServedIssuer('three', async (lonely, uri) => {
        lonely.setJwksBehavior({ status: 500 })
        const h = await app({ issuers: [trusted(lonely, uri)] })
        const token = await lonely.token({ sub: 'u' })
        const unavailable = { status: 503, code: 'PCL_KEYS_UNAVAILABLE', challenge: undefined }
        await expectRefusedRequest(h, token, unavailable)
        expect(h.events.find((e) => e.reason === 'PCL_KEYS_UNAVAILABLE')).toMatchObject({
          decision: 'deny',
          status: 503,
          route: '/v1/videos/:id',
        })
        // No hammering: more requests within the cooldown make no more fetches.
        const fetches = lonely.jwksRequests
        for (let i = 0; i < 5; i++) await expectRefusedRequest(h, token, unavailable)
        expect(lonely.jwksRequests).toBe(fetches)
      })
    },
  },
  {
    name: 'a JWKS holding an RSA key with e = 1 is refused as a whole: 503 and a deny event, good keys included',
    async run({ app }) {
      await withServedIssuer('unsafe', async (unsafe, uri) => {
        const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
        const e1 = { ...publicKey.export({ format: 'jwk' }), e: 'AQ', kid: 'e1', use: 'sig' }
        unsafe.setJwksBehavior({ body: JSON.stringify({ keys: [...unsafe.jwks.keys, e1] }) })
        const h = await app({ issuers: [trusted(unsafe, uri)] })
        const unavailable = { status: 503, code: 'PCL_KEYS_UNAVAILABLE', challenge: undefined }
        await expectRefusedRequest(h, await unsafe.token({ sub: 'u' }), unavailable)
        expect(h.events.find((e) => e.reason === 'PCL_KEYS_UNAVAILABLE')).toMatchObject({
          decision: 'deny',
          status: 503,
          route: '/v1/videos/:id',
        })
      })
    },
  },
  {
    name: 'key rotation: a new key is picked up without restart',
    async run({ app }) {
      await withServedIssuer('rot', async (rotating, uri) => {
        const h = await app({ issuers: [trusted(rotating, uri)], jwks: { cooldown: 1000 } })
        await expectServed(h, await rotating.token({ sub: 'u' }), 'u')
        await rotating.rotate()
        // The new kid is unknown to the cached set: one refetch (the cooldown is 1 s) finds it.
        await new Promise((resolve) => setTimeout(resolve, 1100))
        await expectServed(h, await rotating.token({ sub: 'u' }), 'u')
      })
    },
  },
  {
    name: 'a scope array never grants; scp counts only for an issuer with scopeClaim: scp',
    async run({ app }) {
      const key = await createTestKey({ kid: 'scopes' })
      const entry = (issuer: string, extra: Record<string, unknown> = {}) => ({
        issuer,
        audience: 'videos-api',
        algorithms: ['ES256'],
        jwks: { keys: [key.jwk] },
        ...extra,
      })
      const rfc = 'https://auth.rfc9068.test'
      const okta = 'https://auth.okta.test'
      const h = await app({ issuers: [entry(rfc), entry(okta, { scopeClaim: 'scp' })] })
      const scopesOf = async (iss: string, claims: Record<string, unknown>) => {
        const payload = { ...buildPayload({ issuer: iss, audience: 'videos-api' }), ...claims }
        const reply = await h.get('/v1/me', bearer(await signToken(key, payload)))
        return reply.status === 200
          ? (JSON.parse(reply.body) as { scopes: string[] }).scopes
          : (JSON.parse(reply.body) as { code: string }).code
      }
      // RFC 9068 §2.2.3: `scope` is a space-delimited string; an array is a malformed token.
      expect(await scopesOf(rfc, { scope: ['admin'] })).toBe('PCL_TOKEN_INVALID')
      expect(await scopesOf(rfc, { scope: 'videos:read' })).toEqual(['videos:read'])
      expect(await scopesOf(rfc, { scp: ['admin'] })).toEqual([])
      expect(await scopesOf(okta, { scp: ['videos:read', 'admin'] })).toEqual([
        'admin',
        'videos:read',
      ])
      expect(await scopesOf(okta, { scp: 'videos:read' })).toEqual(['videos:read'])
      expect(await scopesOf(okta, { scope: ['admin'] })).toEqual([])
    },
  },
  {
    name: 'the principal is frozen, built from verified claims, with scopes from scope',
    async run({ app, issuer }) {
      const h = await app()
      const token = await issuer.token({
        sub: 'user-3',
        scope: 'videos:read videos:list',
        client_id: 'search-svc',
      })
      const reply = await h.get('/v1/me', bearer(token))
      expect(reply.status).toBe(200)
      expect(JSON.parse(reply.body)).toEqual({
        frozen: true,
        subject: 'user-3',
        issuer: issuer.issuer,
        clientId: 'search-svc',
        scopes: ['videos:list', 'videos:read'],
      })
    },
  },
]
