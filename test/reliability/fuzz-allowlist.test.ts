import portcullis from '@portcullis/fastify'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import fc from 'fast-check'
import Fastify from 'fastify'
import { beforeAll, describe, expect, it } from 'vitest'
import { trustedTokens } from '../helpers.js'
import { expectProblem, Tally } from './support.js'

// Random JSON bodies against random allowlists, through the full Fastify guard: the route
// returns the body as an object, as a JSON string, as a Buffer, or throws an error carrying it,
// with a random status, and the principal holds random scopes (byScope). A reference model,
// written from the documented path semantics (packages/allowlist/README.md) and independent of
// the implementation, says which paths a response may hold.
//
// Invariants: no response holds a path outside the allowlist for its status and scopes; no
// `__proto__`, `constructor` or `prototype` key leaves; undeclared values (a canary) never leave;
// strip mode keeps the handler's status; reject mode either sends the body unchanged or refuses
// it with 500 problem+json, never a partial body.

const KEYS = ['id', 'title', 'owner', 'tags', 'a', 'code', 'detail', 'secret']
const DECLARABLE = KEYS.filter((k) => k !== 'secret')
const PROBLEM_FIELDS = ['type', 'title', 'status', 'code', 'detail', 'instance']
const CANARY = 'canary-7f3a9c'
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])

type Segment = string // a key, '[]' (array items) or '*'

let issuer: TestIssuer
const tokenFor = new Map<string, string>()

beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: 'https://auth.allow.test', audience: 'api' })
  for (const scopes of [[], ['s1'], ['s2'], ['s1', 's2']]) {
    tokenFor.set(scopes.join(' '), await issuer.token({ sub: 'u', scope: scopes, expiresIn: 3600 }))
  }
})

// ---- arbitraries -----------------------------------------------------------------------------

/** JSON values over a few keys, so that bodies and allowlists meet often. */
const json = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(
      fc.string({ maxLength: 4 }),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
    ),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 5 }),
  ),
})).value

/** Every `secret` key holds the canary: it is never declared, so only `*` may let it out. */
function withCanary(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withCanary)
  if (typeof value !== 'object' || value === null) return value
  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    out[key] = key === 'secret' ? CANARY : withCanary(item)
  }
  return out
}

const path = fc
  .array(fc.constantFrom(...DECLARABLE, '[]', '*'), { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join('.').replaceAll('.[]', '[]'))
  // Valid syntax only: `*` last, `[]` never first after a dot-less start unless top level.
  .filter((p) => !p.slice(0, -1).includes('*') && !/^\[\]\w/.test(p) && !/\*\[\]/.test(p))

const allowlist = fc.uniqueArray(path, { maxLength: 6 })

interface Case {
  body: unknown
  allow: string[]
  byScope: { s1?: string[]; s2?: string[] }
  scopes: string[]
  status: number
  send: 'object' | 'string' | 'buffer' | 'throw'
  mode: 'strip' | 'reject'
  proto: boolean
}

const kase: fc.Arbitrary<Case> = fc.record({
  body: fc
    .oneof(
      { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...KEYS), json, { maxKeys: 6 }) },
      { weight: 1, arbitrary: fc.array(json, { maxLength: 4 }) },
      { weight: 1, arbitrary: json },
    )
    .map(withCanary),
  allow: allowlist,
  byScope: fc.record({ s1: allowlist, s2: allowlist }, { requiredKeys: [] }),
  scopes: fc.subarray(['s1', 's2']),
  status: fc.constantFrom(200, 200, 201, 400, 404, 409, 500, 503),
  send: fc.constantFrom('object', 'string', 'buffer', 'throw'),
  mode: fc.constantFrom('strip', 'strip', 'reject'),
  proto: fc.boolean(),
})

// ---- the reference model -----------------------------------------------------------------------

function parse(text: string): Segment[] {
  const out: Segment[] = []
  for (const dotted of text.split('.')) {
    const m = /^([^[\]]*)((?:\[\])*)$/.exec(dotted)!
    if (m[1] !== '') out.push(m[1]!)
    for (let i = 0; i < m[2]!.length / 2; i++) out.push('[]')
  }
  return out
}

const startsWith = (a: readonly Segment[], b: readonly Segment[]) =>
  b.length <= a.length && b.every((s, i) => a[i] === s)

/**
 * Whether a value of this kind may sit at this path of a response, per the README: a scalar
 * needs its exact path (or `*` on its parent object); `null` or an empty container needs a
 * declared path through it; a non-empty container needs a declared path below it.
 */
function allowed(allow: readonly Segment[][], at: readonly Segment[], value: unknown): boolean {
  const last = at[at.length - 1]
  const starred =
    last !== undefined &&
    last !== '[]' &&
    allow.some((a) => a.length === at.length && startsWith(a, [...at.slice(0, -1), '*']))
  if (value === null) return starred || allow.some((a) => startsWith(a, at))
  if (typeof value !== 'object') {
    return starred || allow.some((a) => a.length === at.length && startsWith(a, at))
  }
  const empty = Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0
  if (empty) return allow.some((a) => startsWith(a, at))
  return allow.some((a) => a.length > at.length && startsWith(a, at))
}

function* walk(value: unknown, at: Segment[] = []): Generator<[Segment[], unknown]> {
  if (at.length > 0) yield [at, value]
  if (Array.isArray(value)) for (const item of value) yield* walk(item, [...at, '[]'])
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) yield* walk(item, [...at, key])
  }
}

function effective(c: Case): string[] {
  if (c.status >= 400) return PROBLEM_FIELDS
  return [...c.allow, ...c.scopes.flatMap((s) => c.byScope[s as 's1' | 's2'] ?? [])]
}

// ---- the app ---------------------------------------------------------------------------------

async function serve(c: Case) {
  const app = Fastify({ logger: false })
  await app.register(portcullis, {
    tokens: trustedTokens(issuer),
  })
  const byScope = Object.fromEntries(Object.entries(c.byScope).filter(([, v]) => v.length > 0))
  app.get(
    '/r',
    {
      config: {
        guard: {
          authenticated: true,
          response: {
            allow: c.allow,
            ...(Object.keys(byScope).length > 0 ? { byScope } : {}),
            mode: c.mode,
          },
        },
      },
    },
    async (_req, reply) => {
      let text = JSON.stringify(c.body)
      if (c.proto && text.startsWith('{')) {
        text = `{"__proto__":{"polluted":"${CANARY}"},"constructor":{"prototype":{"polluted":1}}${text.length > 2 ? ',' : ''}${text.slice(1)}`
      }
      if (c.send === 'throw') {
        const err = Object.assign(new Error(`internal ${CANARY}`), {
          statusCode: c.status >= 400 ? c.status : 500,
          body: c.body,
          stack: `at secret ${CANARY}`,
        })
        throw err
      }
      reply.code(c.status)
      if (c.send === 'object') return c.body
      reply.type('application/json')
      return c.send === 'string' ? text : Buffer.from(text)
    },
  )
  await app.ready()
  try {
    return await app.inject({ url: '/r', headers: bearer(tokenFor.get(c.scopes.join(' '))!) })
  } finally {
    await app.close()
  }
}

describe('random bodies against random allowlists, through the guard', () => {
  it('never let out a path outside the allowlist, nor a partial body in reject mode', async () => {
    const tally = new Tally()
    await fc.assert(
      fc.asyncProperty(kase, async (c) => {
        const res = await serve(c)
        const context = JSON.stringify(c).slice(0, 400)
        const status = c.send === 'throw' ? (c.status >= 400 ? c.status : 500) : c.status
        expect(res.body, context).not.toContain('__proto__')
        expect(({} as Record<string, unknown>).polluted, context).toBeUndefined()
        // A string returned from the handler is sent as text/plain: not JSON, so refused (an
        // empty one carries nothing and leaves as is).
        const uninspectable = c.send === 'object' && typeof c.body === 'string' && c.body !== ''
        if (res.statusCode === 500 && status !== 500) {
          // Only a refused response turns into a 500: in reject mode, or when not JSON.
          expect(expectProblem(res, context)).toBe('PCL_RESPONSE_REJECTED')
          expect(c.mode === 'reject' || uninspectable, context).toBe(true)
          tally.add(500, 'PCL_RESPONSE_REJECTED')
          return
        }
        const code = res.headers['content-type']?.toString().startsWith('application/problem+json')
          ? expectProblem(res, context)
          : null
        tally.add(res.statusCode, code)
        if (code === 'PCL_RESPONSE_REJECTED') {
          expect(c.mode === 'reject' || uninspectable, context).toBe(true)
          return
        }
        expect(uninspectable, context).toBe(false)
        expect(res.statusCode, context).toBe(status)
        const out: unknown = res.body === '' ? undefined : JSON.parse(res.body)
        const allow = effective({ ...c, status }).map(parse)
        for (const [at, value] of walk(out)) {
          expect(
            at.some((s) => FORBIDDEN.has(s)),
            context,
          ).toBe(false)
          if (!allowed(allow, at, value)) {
            throw new Error(
              `${context}: ${at.join('.')} = ${JSON.stringify(value)} is outside the allowlist`,
            )
          }
        }
        const starred = allow.some((a) => a[a.length - 1] === '*')
        if (!starred || status >= 400) expect(res.body, context).not.toContain(CANARY)
        if (c.mode === 'reject' && status < 400 && !c.proto) {
          // Not refused: then nothing had to be removed, and the body is the handler's (an
          // empty string returned from the handler leaves as an empty body).
          const empty = c.send === 'object' && c.body === ''
          if (empty) expect(res.body, context).toBe('')
          else expect(out, context).toEqual(JSON.parse(JSON.stringify(c.body)))
        }
      }),
      // FUZZ_SEED (and FUZZ_PATH) replay a failure: fast-check prints both with the counterexample.
      {
        numRuns: 200,
        ...(process.env.FUZZ_SEED
          ? {
              seed: Number(process.env.FUZZ_SEED),
              ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
            }
          : {}),
      },
    )
    expect(tally.count(200) + tally.count(201), String(tally)).toBeGreaterThan(20)
    expect(tally.count('PCL_RESPONSE_REJECTED'), String(tally)).toBeGreaterThan(5)
    expect(tally.range(400, 599), String(tally)).toBeGreaterThan(40)
  })
})
