import { createTestIssuer, type TestIssuer } from '@portcullis/testing'
import fc from 'fast-check'
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { guardedApp, type GuardedApp } from '../helpers.js'
import { expectNoLeak, expectProblem, responseText, Tally } from './support.js'

// Mutations of valid tokens and Authorization headers, sent through the full guard (tokens,
// policy, rate limit, allowlist) with app.inject. A reference verifier (jose on its own, with the
// same issuer, audience, algorithms and keys) is the oracle for "valid": the guard may refuse
// more than the oracle, never less.
//
// Invariants, checked on every request:
// - no 5xx for client input; every refusal is problem+json with a PCL code (and a challenge on 401);
// - a 2xx only for exactly one well-formed Bearer credential the oracle accepts, carrying the
//   route's scope, and the body is about that token's subject;
// - the guarded handler runs exactly when the response is a 2xx;
// - the presented credential appears in no response, no log line and no audit event.

const ISSUER = 'https://auth.fuzz.test'
const AUDIENCE = 'videos-api'
const MAX_TOKEN_BYTES = 8192
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const BEARER = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i

let issuer: TestIssuer
let h: GuardedApp
let videoRuns = 0
let publicRuns = 0
let reference: (token: string) => Promise<JWTPayload | null>
/** Tokens the mutations start from: valid ones and each kind of bad one. */
let seeds: string[]
/** The valid seeds, which must never leak anywhere. */
let validSeeds: string[]

beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: ISSUER, audience: AUDIENCE })
  const keys = createLocalJWKSet(issuer.jwks)
  const verdicts = new Map<string, JWTPayload | null>()
  reference = async (token) => {
    const known = verdicts.get(token)
    if (known !== undefined) return known
    let verdict: JWTPayload | null = null
    // RFC 7515 §7.1 compact serialization: base64url without padding (jose alone would also
    // decode padded segments; the guard refuses them, which the liveness check must allow).
    if (token.length <= MAX_TOKEN_BYTES && COMPACT.test(token)) {
      try {
        verdict = (
          await jwtVerify(token, keys, {
            issuer: ISSUER,
            audience: AUDIENCE,
            algorithms: ['ES256'],
            requiredClaims: ['exp', 'sub'],
            clockTolerance: 5,
          })
        ).payload
      } catch {
        verdict = null
      }
    }
    verdicts.set(token, verdict)
    return verdict
  }
  validSeeds = await Promise.all([
    issuer.token({ sub: 'alice', scope: ['videos:read'], client_id: 'player-svc' }),
    issuer.token({ sub: 'bob', scope: ['videos:read', 'videos:write'] }),
    issuer.token({ sub: 'carol', scope: ['profile'] }),
    issuer.token({ sub: 'dave', scope: 'videos:read', expiresIn: 3600 }),
  ])
  seeds = [
    ...validSeeds,
    await issuer.bad.expired({ sub: 'alice', scope: ['videos:read'] }),
    await issuer.bad.notYetValid({ sub: 'alice', scope: ['videos:read'] }),
    await issuer.bad.wrongAudience({ sub: 'alice', scope: ['videos:read'] }),
    await issuer.bad.wrongIssuer({ sub: 'alice', scope: ['videos:read'] }),
    await issuer.bad.wrongKey({ sub: 'alice', scope: ['videos:read'] }),
    await issuer.bad.algNone({ sub: 'alice', scope: ['videos:read'] }),
    await issuer.bad.hs256WithPublicKey({ sub: 'alice', scope: ['videos:read'] }),
    await issuer.token({ sub: undefined, scope: ['videos:read'] }),
  ]
  h = await guardedApp(
    (app) => {
      app.get(
        '/v1/videos/:id',
        {
          config: {
            guard: { scopes: ['videos:read'], response: { allow: ['id', 'title', 'subject'] } },
          },
        },
        (req) => {
          videoRuns++
          return {
            id: (req.params as { id: string }).id,
            title: 'A video',
            subject: req.principal?.subject,
            internal: 'never-leaves',
          }
        },
      )
      app.get(
        '/healthz',
        { config: { guard: { public: 'probe', response: { allow: ['ok'] } } } },
        () => {
          publicRuns++
          return { ok: true }
        },
      )
    },
    {
      issuer,
      portcullis: {
        tokens: {
          issuers: [
            { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], jwks: issuer.jwks },
          ],
          realm: 'fuzz',
        },
        rateLimit: { max: 1_000_000, timeWindow: '1 minute', preAuth: false },
        response: {},
      },
    },
  )
  await h.app.ready()
})

afterAll(async () => {
  await h?.app.close()
})

// ---- arbitraries -------------------------------------------------------------------------

const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url')
const unb64 = (text: string): Buffer => Buffer.from(text, 'base64url')
const parts = (token: string): string[] => token.split('.')

/** Bytes an HTTP parser would hand over in a header value: tab, visible ASCII, obs-text. */
const headerByte = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.integer({ min: 0x80, max: 0xff }),
  fc.constant(0x09),
)
const headerText = (maxLength: number) =>
  fc.array(headerByte, { maxLength }).map((codes) => String.fromCharCode(...codes))
const base64urlText = (maxLength: number) =>
  fc
    .array(
      fc.constantFrom(
        ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'.split(''),
      ),
      { maxLength },
    )
    .map((chars) => chars.join(''))

const seed = fc.nat().map((n) => seeds[n % seeds.length]!)
const validSeed = fc.nat().map((n) => validSeeds[n % validSeeds.length]!)

function printable(code: number): string {
  return code === 0x09 || (code >= 0x20 && code !== 0x7f && code <= 0xff)
    ? String.fromCharCode(code)
    : '~'
}

/** Tokens with one thing wrong, or many. */
const credential: fc.Arbitrary<string> = fc.oneof(
  // The seeds themselves: valid, expired, wrong audience/issuer/key, alg none, confusion.
  seed,
  // Random bytes and random base64url with dots.
  headerText(400),
  base64urlText(1200),
  // Truncated at any point.
  fc.tuple(seed, fc.nat()).map(([t, n]) => t.slice(0, n % (t.length + 1))),
  // One bit flipped in the text.
  fc.tuple(validSeed, fc.nat(), fc.integer({ min: 0, max: 7 })).map(([t, i, bit]) => {
    const at = i % t.length
    return t.slice(0, at) + printable(t.charCodeAt(at) ^ (1 << bit)) + t.slice(at + 1)
  }),
  // One bit flipped in the decoded header, payload or signature, re-encoded.
  fc
    .tuple(validSeed, fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: 0, max: 7 }))
    .map(([t, segment, i, bit]) => {
      const p = parts(t)
      const bytes = unb64(p[segment]!)
      if (bytes.length > 0) bytes[i % bytes.length]! ^= 1 << bit
      p[segment] = b64(bytes)
      return p.join('.')
    }),
  // Segments spliced from two tokens (bob's payload under alice's signature...).
  fc
    .tuple(seed, seed, fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }))
    .map(([a, b, pick]) => {
      const pa = parts(a)
      const pb = parts(b)
      return pick.map((fromA, i) => (fromA ? pa[i] : pb[i]) ?? '').join('.')
    }),
  // Claims rewritten under the original signature.
  fc
    .tuple(
      validSeed,
      fc.record(
        {
          sub: fc.oneof(fc.constantFrom('admin', 'alice', 'bob', ''), fc.integer()),
          scope: fc.constantFrom('videos:read admin', 'admin', '*', ''),
          exp: fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.constant('never')),
          iss: fc.constantFrom('https://evil.test', ISSUER, ''),
          aud: fc.constantFrom('other-api', AUDIENCE, [AUDIENCE, 'x']),
        },
        { requiredKeys: [] },
      ),
    )
    .map(([t, patch]) => {
      const p = parts(t)
      const claims = JSON.parse(unb64(p[1]!).toString('utf8')) as Record<string, unknown>
      p[1] = b64(JSON.stringify({ ...claims, ...patch }))
      return p.join('.')
    }),
  // Header rewritten under the original signature: alg swaps, jku/jwk injection, crit.
  fc
    .tuple(
      validSeed,
      fc.record(
        {
          alg: fc.constantFrom('none', 'HS256', 'ES384', 'RS256', 'ES256', 'nOnE'),
          kid: fc.oneof(fc.string({ maxLength: 8 }), fc.constant('../../etc/passwd')),
          jku: fc.constant('http://127.0.0.1:1/jwks.json'),
          jwk: fc.constant({ kty: 'oct', k: 'c2VjcmV0' }),
          crit: fc.constant(['exp']),
          b64: fc.constant(false),
        },
        { requiredKeys: [] },
      ),
      fc.boolean(),
    )
    .map(([t, patch, dropSignature]) => {
      const p = parts(t)
      const header = JSON.parse(unb64(p[0]!).toString('utf8')) as Record<string, unknown>
      p[0] = b64(JSON.stringify({ ...header, ...patch }))
      if (dropSignature) p[2] = ''
      return p.join('.')
    }),
  // Framing: padding, extra or missing segments, repetition, case, oversize.
  fc
    .tuple(
      seed,
      fc.constantFrom(
        (t: string) => `${t}=`,
        (t: string) => `${t}==`,
        (t: string) => `${t}.`,
        (t: string) => `.${t}`,
        (t: string) => t.replace('.', '..'),
        (t: string) => `${t}.${parts(t)[2]}.${parts(t)[2]}`,
        (t: string) => parts(t).slice(0, 2).join('.'),
        (t: string) => `${t}${t}`,
        (t: string) => `${t} ${t}`,
        (t: string) => t.toUpperCase(),
        (t: string) => t.replaceAll('-', '+').replaceAll('_', '/'),
        (t: string) => `${t}\t`,
        (t: string) => `${t}\u00e9`,
      ),
    )
    .map(([t, frame]) => frame(t)),
  fc.tuple(validSeed, fc.integer({ min: 1, max: 70_000 })).map(([t, n]) => t + 'A'.repeat(n)),
)

/** An Authorization header value around a credential. */
const authorization: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: credential.map((c) => `Bearer ${c}`) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom('bearer', 'BEARER', 'BeArEr', 'Bearer', 'Basic', 'Token', 'DPoP', ''),
        fc.constantFrom(' ', '  ', '\t', '', ' \t'),
        credential,
        fc.constantFrom('', ' ', ', Bearer x', ',', ' realm="x"'),
      )
      .map(([scheme, sep, c, tail]) => `${scheme}${sep}${c}${tail}`),
  },
  { weight: 1, arbitrary: headerText(200) },
)

interface FuzzRequest {
  url: string
  authorization: string[]
  query: string | null
}

const request: fc.Arbitrary<FuzzRequest> = fc.record({
  url: fc.constantFrom('/v1/videos/7', '/healthz', '/v1/nowhere'),
  authorization: fc.oneof(
    { weight: 8, arbitrary: authorization.map((a) => [a]) },
    // Duplicated headers: the same value twice, or different ones.
    { weight: 2, arbitrary: fc.array(authorization, { minLength: 2, maxLength: 4 }) },
    { weight: 1, arbitrary: validSeed.map((t) => [`Bearer ${t}`, `Bearer ${t}`]) },
    { weight: 1, arbitrary: fc.constant<string[]>([]) },
  ),
  query: fc.oneof(
    { weight: 9, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: credential },
  ),
})

// ---- the model of what may be served -------------------------------------------------------

/** The subject a request may be served as: `null` when it carries no credential. */
async function mayServe(
  req: FuzzRequest,
): Promise<{ anonymous: boolean; sub: unknown; scopes: string[] } | undefined> {
  if (req.query !== null) return undefined // a token in the query is refused on these routes
  if (req.authorization.length === 0) return { anonymous: true, sub: null, scopes: [] }
  if (req.authorization.length > 1) return undefined
  const value = req.authorization[0]!
  // The scheme runs to the first space (RFC 9110 §11.4); another scheme, or an empty header,
  // carries no bearer credentials: anonymous.
  const space = value.indexOf(' ')
  const scheme = space === -1 ? value : value.slice(0, space)
  if (scheme.toLowerCase() !== 'bearer') return { anonymous: true, sub: null, scopes: [] }
  const match = BEARER.exec(value)
  if (match === null) return undefined
  const payload = await reference(match[1]!)
  if (payload === null) return undefined
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : []
  return { anonymous: false, sub: payload.sub, scopes }
}

function secretsOf(req: FuzzRequest): string[] {
  const secrets: string[] = []
  for (const value of [...req.authorization, req.query ?? '']) {
    const token = value.replace(/^\S*\s+/, '')
    secrets.push(token)
    for (const part of token.split('.')) secrets.push(part)
  }
  return secrets
}

describe('fuzzed credentials through the full guard', () => {
  it('never serves an invalid credential, never answers 5xx, never leaks the token', async () => {
    const tally = new Tally()
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        const logsBefore = h.logs.length
        const eventsBefore = h.events.length
        const videosBefore = videoRuns
        const publicBefore = publicRuns
        const url =
          req.query === null ? req.url : `${req.url}?access_token=${encodeURIComponent(req.query)}`
        const headers: Record<string, string | string[]> = {}
        if (req.authorization.length === 1) headers.authorization = req.authorization[0]!
        if (req.authorization.length > 1) headers.authorization = req.authorization
        const res = await h.app.inject({ method: 'GET', url, headers })
        const context = JSON.stringify(req).slice(0, 300)
        const ranVideo = videoRuns - videosBefore
        const ranPublic = publicRuns - publicBefore
        const allowed = await mayServe(req)
        expect(res.statusCode, context).toBeLessThan(500)
        // Fastify's own 404 answers an unknown URL only for a valid token; all else is ours.
        const fastify404 = req.url === '/v1/nowhere' && res.statusCode === 404
        if (fastify404) expect(allowed?.anonymous, context).toBe(false)
        const code = res.statusCode >= 400 && !fastify404 ? expectProblem(res, context) : null
        tally.add(res.statusCode, code)
        if (req.url === '/v1/videos/7') {
          const entitled =
            allowed !== undefined && !allowed.anonymous && allowed.scopes.includes('videos:read')
          expect(ranVideo, context).toBe(res.statusCode === 200 ? 1 : 0)
          if (res.statusCode < 300) {
            expect(entitled, `${context} was served`).toBe(true)
            expect(res.json()).toEqual({ id: '7', title: 'A video', subject: allowed?.sub })
          } else if (entitled) {
            // A credential the oracle accepts, in a well-formed header, is served.
            throw new Error(`${context}: a valid request was refused with ${res.statusCode}`)
          }
        } else if (req.url === '/healthz') {
          expect(ranPublic, context).toBe(res.statusCode === 200 ? 1 : 0)
          if (res.statusCode < 300) expect(allowed, `${context} was served`).toBeDefined()
        } else {
          expect(res.statusCode, context).not.toBeLessThan(400)
        }
        expect(videoRuns - videosBefore + ranPublic, context).toBeLessThanOrEqual(1)

        // Fastify's own request log prints the URL with its query (docs/guides/tokens.md):
        // a token sent in the query is only looked for in the other lines.
        const lines = h.logs
          .slice(logsBefore)
          .filter((line) => req.query === null || !line.includes('"msg":"incoming request"'))
        const events = h.events.slice(eventsBefore).map((e) => JSON.stringify(e))
        expectNoLeak([responseText(res), ...lines, ...events], secretsOf(req), context)
      }),
      { numRuns: 3000 },
    )
    // The run covered every outcome, so the invariants were exercised where it matters.
    expect(tally.count(200), String(tally)).toBeGreaterThan(20)
    expect(tally.count('PCL_TOKEN_INVALID'), String(tally)).toBeGreaterThan(100)
    expect(tally.count('PCL_INVALID_REQUEST'), String(tally)).toBeGreaterThan(20)
    expect(tally.count('PCL_TOKEN_MISSING'), String(tally)).toBeGreaterThan(20)
    expect(tally.count('PCL_TOKEN_TOO_LARGE'), String(tally)).toBeGreaterThan(5)
    // The valid seeds never appear in any log line or audit event (but Fastify's request line
    // of a request that put one in its query, as above).
    const requestLine = (line: string) =>
      line.includes('"msg":"incoming request"') && line.includes('access_token=')
    expectNoLeak(
      [...h.logs.filter((line) => !requestLine(line)), ...h.events.map((e) => JSON.stringify(e))],
      validSeeds.flatMap((t) => [t, parts(t)[2]!]),
      'logs',
    )
  })
})
