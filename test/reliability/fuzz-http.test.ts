import type { AddressInfo } from 'node:net'
import { createTestIssuer, type TestIssuer } from '@portcullis/testing'
import fc from 'fast-check'
import type { FastifyRequest } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { guardedApp, trustedTokens, type GuardedApp } from '../helpers.js'
import {
  expectNoLeak,
  expectProblem,
  rawExchange,
  responseText,
  Tally,
  type Answer,
} from './support.js'

// Hostile request targets and header blocks over a real loopback socket: the bytes reach Node's
// HTTP parser and Fastify's router exactly as written (app.inject and fetch would normalize
// `%2e%2e`, dot segments and more before the router sees them).
//
// Invariants, checked on every request:
// - no 5xx;
// - a handler runs only for a caller its route's guard admits: anonymous callers reach only the
//   public route, a `videos:read` token never reaches the admin route, the history of a user
//   only for that user (claims tied to the route parameter);
// - a 2xx always comes from exactly one handler run, and a refused request runs none;
// - a refusal by the guard is problem+json; other 4xx come from Node's parser or Fastify's router
//   (bad percent-encoding, header block too large, unknown URL with a valid token) and are
//   counted apart;
// - no token appears in a response, a log line or an audit event.

interface Served {
  route: string
  subject: string | null
  params: Record<string, string>
}

let issuer: TestIssuer
let h: GuardedApp
let port: number
const served: Served[] = []
const tokens: Record<'alice' | 'bob', string> = { alice: '', bob: '' }

function record(route: string, req: FastifyRequest): void {
  served.push({
    route,
    subject: req.principal?.subject ?? null,
    params: { ...(req.params as Record<string, string>) },
  })
}

beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: 'https://auth.http.test', audience: 'videos-api' })
  tokens.alice = await issuer.token({ sub: 'alice', scope: ['videos:read'], expiresIn: 3600 })
  tokens.bob = await issuer.token({ sub: 'bob', scope: ['profile'], expiresIn: 3600 })
  h = await guardedApp(
    (app) => {
      const allow = (fields: string[]) => ({ allow: fields })
      app.get(
        '/healthz',
        { config: { guard: { public: 'probe', response: allow(['ok']) } } },
        (req) => {
          record('healthz', req)
          return { ok: true }
        },
      )
      app.get(
        '/v1/videos/:id',
        { config: { guard: { scopes: ['videos:read'], response: allow(['id']) } } },
        (req) => {
          record('video', req)
          return { id: (req.params as { id: string }).id, secret: 'x' }
        },
      )
      app.get(
        '/v1/videos',
        { config: { guard: { scopes: ['videos:read'], response: allow(['[].id']) } } },
        (req) => {
          record('videos', req)
          return [{ id: 1 }]
        },
      )
      app.post(
        '/v1/videos',
        { config: { guard: { scopes: ['videos:write'], response: allow(['id']) } } },
        (req) => {
          record('create', req)
          return { id: 2 }
        },
      )
      app.get(
        '/admin/users',
        { config: { guard: { scopes: ['admin'], response: allow(['[].name']) } } },
        (req) => {
          record('admin', req)
          return [{ name: 'root' }]
        },
      )
      app.get(
        '/v1/users/:id/history',
        {
          config: {
            guard: { claims: { sub: { param: 'id' } }, response: allow(['[].videoId']) },
          },
        },
        (req) => {
          record('history', req)
          return [{ videoId: 1 }]
        },
      )
      app.get(
        '/files/*',
        { config: { guard: { authenticated: true, response: allow(['path']) } } },
        (req) => {
          record('files', req)
          return { path: (req.params as { '*': string })['*'] }
        },
      )
    },
    {
      issuer,
      portcullis: {
        tokens: { ...trustedTokens(issuer), realm: 'http-fuzz' },
        rateLimit: { max: 1_000_000, timeWindow: '1 minute' },
        response: {},
      },
    },
  )
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  port = (h.app.server.address() as AddressInfo).port
})

afterAll(async () => {
  await h?.app.close()
})

type Caller = 'anonymous' | 'alice' | 'bob'

/** What a caller may reach: the route names of `record()`, and a check on the parameters. */
function admits(caller: Caller, s: Served): boolean {
  if (s.route === 'healthz') return true
  if (caller === 'anonymous') return false
  if (s.subject !== caller) return false
  switch (s.route) {
    case 'video':
    case 'videos':
      return caller === 'alice'
    case 'history':
      return s.params.id === caller
    case 'files':
      return true
    case 'create':
      return false // nobody holds videos:write
    default:
      return false
  }
}

/** Judges one exchange; returns a tally key. */
function judge(
  caller: Caller,
  method: string,
  res: Answer,
  before: { served: number; logs: number; events: number },
  context: string,
): string {
  const ran = served.slice(before.served)
  expect(res.statusCode, context).toBeLessThan(500)
  expect(ran.length, context).toBeLessThanOrEqual(1)
  for (const s of ran) {
    expect(admits(caller, s), `${context} reached ${JSON.stringify(s)}`).toBe(true)
  }
  if (res.statusCode < 300) expect(ran.length, context).toBe(1)
  else expect(ran, context).toEqual([])
  const secrets = Object.values(tokens).flatMap((t) => [t, t.split('.')[2]!])
  expectNoLeak(
    [
      responseText(res),
      ...h.logs.slice(before.logs),
      ...h.events.slice(before.events).map((e) => JSON.stringify(e)),
    ],
    secrets,
    context,
  )
  if (res.statusCode < 400) return String(res.statusCode)
  if (String(res.headers['content-type']).startsWith('application/problem+json')) {
    if (res.statusCode === 404) {
      // URLs no route serves: the guard's own 404, to callers it let that far, never anonymous.
      expect(caller, context).not.toBe('anonymous')
      if (method !== 'HEAD') {
        expect(JSON.parse(res.body), context).toEqual({
          type: 'about:blank',
          title: 'Not Found',
          status: 404,
        })
      }
      return 'problem 404'
    }
    if (method !== 'HEAD') return expectProblem(res, context)
    // A HEAD answer has the headers of the problem and no body.
    expect(res.body, context).toBe('')
    if (res.statusCode === 401) expect(res.headers['www-authenticate'], context).toMatch(/^Bearer/)
    return `HEAD ${res.statusCode}`
  }
  // Not ours: Node's parser (400, 431) or Fastify's router (400 bad URL, 414 parameter too
  // long). A 404 is always the guard's (above).
  expect([400, 405, 413, 414, 431], context).toContain(res.statusCode)
  return `native ${res.statusCode}`
}

function head(method: string, target: string, lines: string[]): string {
  return `${method} ${target} HTTP/1.1\r\n${lines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`
}

// ---- request targets ------------------------------------------------------------------------

const KNOWN = [
  '/healthz',
  '/v1/videos/7',
  '/v1/videos',
  '/admin/users',
  '/v1/users/alice/history',
  '/v1/users/bob/history',
  '/files/a/b.txt',
]

const pieces = fc.constantFrom(
  'healthz',
  'v1',
  'videos',
  'admin',
  'users',
  'history',
  'files',
  'alice',
  'bob',
  '7',
  '',
  '.',
  '..',
  '%2e',
  '%2e%2e',
  '%2E%2e',
  '.%2e',
  '%2f',
  '%2F',
  '%5c',
  '\\',
  ';',
  ';x=1',
  '..;',
  '%3b',
  'HEALTHZ',
  'Admin',
  'ADMIN',
  '%61dmin',
  '%41DMIN',
  '%00',
  '%',
  '%zz',
  '%c3%a9',
  '%ff',
  '~',
  '*',
  '%20',
  '%2561dmin',
)

/** Mutations of a known path: encodings, case, slashes, parameters, dot segments. */
const mutate = (path: string, picks: number[]): string => {
  let out = ''
  let k = 0
  const next = () => picks[k++ % picks.length]!
  for (const ch of path) {
    const r = next() % 14
    if (r === 0 && ch !== '/') out += `%${ch.charCodeAt(0).toString(16)}`
    else if (r === 1 && ch !== '/') out += `%${ch.charCodeAt(0).toString(16).toUpperCase()}`
    else if (r === 2) out += ch.toUpperCase()
    else if (r === 3 && ch === '/') out += '//'
    else if (r === 4 && ch === '/') out += '/./'
    else if (r === 5 && ch === '/') out += '/x/../'
    else if (r === 6 && ch === '/') out += ';p=1/'
    else if (r === 7 && ch === '/') out += '/%2e%2e/'
    else if (r === 8 && ch === '/') out += '%2f'
    else out += ch
  }
  const tail = next() % 6
  return out + ['', '/', ';a=b', '/.', '?x=1', '#f'][tail]!
}

const target: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...KNOWN),
  fc
    .tuple(fc.constantFrom(...KNOWN), fc.array(fc.nat(), { minLength: 1, maxLength: 40 }))
    .map(([path, picks]) => mutate(path, picks)),
  fc
    .tuple(
      fc.array(pieces, { minLength: 1, maxLength: 6 }),
      fc.constantFrom('/', '//'),
      fc.constantFrom('', '/', '//', ';', ';a=b', '%2f', '/.'),
      fc.constantFrom('', '?', '?a=1', '?%', '?id=1&id=2', '#x', '?a=%zz'),
    )
    .map(([segments, sep, trail, query]) => `/${segments.join(sep)}${trail}${query}`),
)

describe('hostile request targets over a real socket', () => {
  it('reach only what the caller may reach, with no 5xx and no leak', async () => {
    const tally = new Tally()
    const native = new Tally()
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Caller>('anonymous', 'alice', 'bob'),
        fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST'),
        target,
        async (caller, method, path) => {
          const before = { served: served.length, logs: h.logs.length, events: h.events.length }
          const lines = ['Host: 127.0.0.1']
          if (caller !== 'anonymous') lines.push(`Authorization: Bearer ${tokens[caller]}`)
          if (method === 'POST') lines.push('Content-Type: application/json', 'Content-Length: 2')
          const raw = head(method, path, lines) + (method === 'POST' ? '{}' : '')
          const res = await rawExchange(port, raw)
          const key = judge(caller, method, res, before, `${caller} ${method} ${path}`)
          tally.add(res.statusCode, key)
          if (key.startsWith('native')) native.add(res.statusCode)
        },
      ),
      { numRuns: 1200 },
    )
    // The run reached handlers and refusals of every kind.
    expect(tally.count(200), String(tally)).toBeGreaterThan(50)
    expect(tally.count('PCL_TOKEN_MISSING'), String(tally)).toBeGreaterThan(50)
    expect(tally.count('PCL_INSUFFICIENT_SCOPE'), String(tally)).toBeGreaterThan(10)
    expect(tally.count('PCL_CLAIM_MISMATCH'), String(tally)).toBeGreaterThan(0)
    expect(native.total, String(tally)).toBeGreaterThan(0)
  })

  it('serve the same route for encoded forms of its path, with its guard', async () => {
    // Fastify decodes percent-encoded characters before routing: %61dmin is /admin, and it is
    // guarded as /admin is. Dot segments are not resolved by the router: /x/../admin/users is
    // an unknown URL, never a route reached around its guard.
    const cases: [Caller, string, number, string | null][] = [
      ['anonymous', '/%61dmin/users', 401, null],
      ['alice', '/%61dmin/users', 403, null],
      ['alice', '/%61DMIN/users', 404, null],
      ['anonymous', '/healthz/../admin/users', 401, null],
      ['alice', '/healthz/../admin/users', 404, null],
      ['anonymous', '/%68ealthz', 200, 'healthz'],
      ['bob', '/v1/users/%61lice/history', 403, null],
      ['alice', '/v1/users/%61lice/history', 200, 'history'],
      ['alice', '/v1/users/alice%2f..%2fbob/history', 403, null],
      ['anonymous', '/files/..%2f..%2fadmin%2fusers', 401, null],
    ]
    for (const [caller, path, status, route] of cases) {
      const before = { served: served.length, logs: h.logs.length, events: h.events.length }
      const lines = ['Host: 127.0.0.1']
      if (caller !== 'anonymous') lines.push(`Authorization: Bearer ${tokens[caller]}`)
      const res = await rawExchange(port, head('GET', path, lines))
      judge(caller, 'GET', res, before, `${caller} ${path}`)
      expect([path, res.statusCode]).toEqual([path, status])
      expect(served.slice(before.served).map((s) => s.route)).toEqual(route === null ? [] : [route])
    }
  })
})

// ---- header blocks --------------------------------------------------------------------------

const authName = fc.constantFrom('Authorization', 'authorization', 'AUTHORIZATION', 'AuThOrIzAtIoN')

describe('hostile header blocks over a real socket', () => {
  it('duplicated, folded, oversized and numerous headers never get a request served wrongly', async () => {
    const tally = new Tally()
    const authValue = fc.oneof(
      fc.constant(`Bearer ${tokens.alice}`),
      fc.constant(`Bearer ${tokens.bob}`),
      fc.constant(`bearer  ${tokens.alice}`),
      fc.constant(`Basic ${tokens.alice}`),
      fc.nat().map((n) => `Bearer ${tokens.alice.slice(0, n % tokens.alice.length)}`),
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 5 })).map(([i, bit]) => {
        const t = tokens.alice
        const at = i % t.length
        return `Bearer ${t.slice(0, at)}${String.fromCharCode(t.charCodeAt(at) ^ (1 << bit))}${t.slice(at + 1)}`
      }),
      fc.integer({ min: 8000, max: 20_000 }).map((n) => `Bearer ${tokens.alice}${'A'.repeat(n)}`),
    )
    const block = fc.record({
      path: fc.constantFrom('/v1/videos/7', '/healthz'),
      auth: fc.array(
        fc.tuple(authName, authValue, fc.constantFrom(false, false, false, false, false, true)),
        { maxLength: 4 },
      ),
      padding: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 24_000 }) },
      ),
      extra: fc.integer({ min: 0, max: 300 }),
      host: fc.constantFrom(1, 1, 1, 1, 1, 1, 1, 0, 2),
      smuggle: fc.constantFrom(false, false, false, false, false, false, false, false, false, true),
    })
    await fc.assert(
      fc.asyncProperty(block, async (b) => {
        const before = { served: served.length, logs: h.logs.length, events: h.events.length }
        const lines: string[] = []
        for (let i = 0; i < b.host; i++) lines.push('Host: 127.0.0.1')
        for (const [name, value, folded] of b.auth) {
          // obs-fold (RFC 9112 §5.2): the value continues on the next line.
          if (folded && value.includes(' ')) lines.push(`${name}: ${value.replace(' ', '\r\n ')}`)
          else lines.push(`${name}: ${value}`)
        }
        if (b.padding > 0) lines.push(`X-Padding: ${'p'.repeat(b.padding)}`)
        for (let i = 0; i < b.extra; i++) lines.push(`X-Extra-${i}: ${i}`)
        if (b.smuggle) lines.push('Content-Length: 0', 'Transfer-Encoding: chunked')
        const res = await rawExchange(port, head('GET', b.path, lines))
        const context = JSON.stringify({
          ...b,
          auth: b.auth.map(([n, v, f]) => [n, v.slice(0, 30), v.length, f]),
        })
        const key = judge(servedAs(b.auth.map(([, value]) => value)), 'GET', res, before, context)
        tally.add(res.statusCode, key)
        // Several Authorization lines are ambiguous: never served, whatever their values.
        const bearerLines = b.auth.filter(([, v]) => /^bearer /i.test(v)).length
        if (b.auth.length > 1 && bearerLines > 0) expect(res.statusCode, context).not.toBe(200)
      }),
      { numRuns: 400 },
    )
    expect(tally.count(200), String(tally)).toBeGreaterThan(10)
    expect(tally.count('PCL_INVALID_REQUEST'), String(tally)).toBeGreaterThan(10)
    expect(tally.count(431), String(tally)).toBeGreaterThan(10)
  })
})

/**
 * Who a header block may be served as. Several Authorization lines or a malformed one may be
 * refused or served anonymously (public route), never as a user: `judge` checks the subject, so
 * an ambiguous block is "anonymous".
 */
function servedAs(values: string[]): Caller {
  if (values.length !== 1) return 'anonymous'
  const value = values[0]!
  if (value === `Bearer ${tokens.alice}`) return 'alice'
  if (value === `Bearer ${tokens.bob}`) return 'bob'
  return 'anonymous'
}
