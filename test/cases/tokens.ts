// Refused tokens, shared by the adapters' suites (test/fastify/tokens.test.ts and
// test/express/tokens.test.ts) so that both are held to one list. Each app trusts two issuers
// (`issuer`, through its JWKS URL, and `other`, through a JWKS object), answers challenges with
// realm "videos", and guards `/v1/videos/:id` with `{ authenticated: true }`.
import { createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'

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
  return `${b64url({ alg, typ: 'at+jwt', kid: issuer.kid })}.${b64url(payload)}.`
}

async function advertisedKey(issuer: TestIssuer, param: string): Promise<string> {
  const attacker = await generateKeyPair('ES256', { extractable: true })
  const jwk = await exportJWK(attacker.publicKey)
  const value =
    param === 'jwk'
      ? jwk
      : param === 'x5c'
        ? ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA']
        : 'http://127.0.0.1:1/attacker-jwks.json'
  return new SignJWT({ sub: 'attacker' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker', [param]: value })
    .setIssuer(issuer.issuer)
    .setAudience('videos-api')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(attacker.privateKey)
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
  {
    name: 'accepted on a route that opts in',
    url: (t) => `/v1/events?access_token=${t}`,
    status: 200,
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
