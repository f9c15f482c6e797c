import { isPortcullisConfigError, isPortcullisError } from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { compileBodyRule, type BodyCheck } from './compile-body-rule.js'

const NONE: ReadonlySet<string> = new Set()
const ADMIN: ReadonlySet<string> = new Set(['videos:admin'])

const video = compileBodyRule(
  {
    writable: ['title', 'description', 'tags[]', 'chapters[].title', 'metadata.*'],
    byScope: { 'videos:admin': ['visibility', 'ownerId', 'chapters[].internal'] },
  },
  { route: 'PATCH /v1/videos/:id', scopesGranted: new Set(['videos:write', 'videos:admin']) },
)

function refused(result: BodyCheck, code: string, fields?: readonly string[]) {
  expect(result.ok).toBe(false)
  if (result.ok) return
  expect(isPortcullisError(result.error, code as never)).toBe(true)
  if (fields !== undefined) expect(result.fields).toEqual(fields)
}

describe('compileBodyRule: what passes', () => {
  it('passes a body of writable fields as the same object, nothing copied', () => {
    const body = {
      title: 't',
      description: null,
      tags: ['a', 'b'],
      chapters: [{ title: 'one' }, {}],
      metadata: { lang: 'en', hd: true },
    }
    const result = video.check(body, NONE)
    expect(result).toEqual({ ok: true, body, removed: [] })
    if (result.ok) expect(result.body).toBe(body)
  })

  it('passes no body at all', () => {
    expect(video.check(undefined, NONE)).toMatchObject({ ok: true, body: undefined })
    expect(video.check(null, NONE)).toMatchObject({ ok: true, body: null })
  })

  it('lets a scope widen the writable set', () => {
    const body = { title: 't', visibility: 'public', chapters: [{ title: 'x', internal: 'y' }] }
    expect(video.check(body, ADMIN)).toMatchObject({ ok: true, body })
  })

  it('accepts empty objects and arrays where fields are declared below them', () => {
    expect(video.check({ chapters: [], tags: [], metadata: {} }, NONE).ok).toBe(true)
  })

  it('accepts null-prototype objects, as form parsers make them', () => {
    const body = Object.assign(Object.create(null) as object, { title: 't' })
    expect(video.check(body, NONE)).toMatchObject({ ok: true, body })
  })

  it('takes a zod object as the writable list', () => {
    const rule = compileBodyRule({
      writable: z.object({ title: z.string(), chapters: z.array(z.object({ title: z.string() })) }),
    })
    expect(rule.summary).toBe('schema: 2 fields; reject')
    expect(rule.check({ title: 't', chapters: [{ title: 'c' }] }, NONE).ok).toBe(true)
    refused(rule.check({ title: 't', role: 'admin' }, NONE), 'PCL_UNKNOWN_FIELD', ['role'])
  })
})

describe('compileBodyRule: what is refused', () => {
  it('403 PCL_FIELD_NOT_WRITABLE for a field only a scope the principal lacks can write', () => {
    const result = video.check({ title: 't', ownerId: 'someone-else', visibility: 'x' }, NONE)
    refused(result, 'PCL_FIELD_NOT_WRITABLE', ['ownerId', 'visibility'])
    if (!result.ok) {
      expect(result.error.status).toBe(403)
      expect(result.error.detail).toBe(
        "Fields not writable with this token's scopes: ownerId, visibility",
      )
      // Paths, never values.
      expect(result.error.detail).not.toContain('someone-else')
    }
  })

  it('names nested array paths in the pattern form', () => {
    const result = video.check({ chapters: [{ title: 'a' }, { title: 'b', internal: 'x' }] }, NONE)
    refused(result, 'PCL_FIELD_NOT_WRITABLE', ['chapters[].internal'])
  })

  it('400 PCL_UNKNOWN_FIELD for a field no rule names, in reject mode (the default)', () => {
    const result = video.check({ title: 't', role: 'admin', chapters: [{ at: 1 }] }, NONE)
    refused(result, 'PCL_UNKNOWN_FIELD', ['role', 'chapters[].at'])
    if (!result.ok) expect(result.error.status).toBe(400)
  })

  it('a not-writable field wins over an unknown one', () => {
    refused(video.check({ role: 'admin', ownerId: 'x' }, NONE), 'PCL_FIELD_NOT_WRITABLE', [
      'ownerId',
    ])
  })

  it('refuses values of another shape than declared (an object where a scalar is)', () => {
    refused(video.check({ title: { $ne: null } }, NONE), 'PCL_UNKNOWN_FIELD', ['title.$ne'])
    refused(video.check({ tags: 'a' }, NONE), 'PCL_UNKNOWN_FIELD', ['tags'])
    refused(video.check({ title: ['a'] }, NONE), 'PCL_UNKNOWN_FIELD', ['title[]'])
    refused(video.check({ metadata: { nested: { a: 1 } } }, NONE), 'PCL_UNKNOWN_FIELD', [
      'metadata.nested',
    ])
  })

  it('refuses a body that is not an object (or an array where the rule declares one)', () => {
    refused(video.check(42, NONE), 'PCL_UNKNOWN_FIELD', ['(body)'])
    refused(video.check([{ title: 't' }], NONE), 'PCL_UNKNOWN_FIELD', ['(body)'])
    const list = compileBodyRule({ writable: ['[].title'] })
    expect(list.check([{ title: 't' }], NONE).ok).toBe(true)
    refused(list.check({ title: 't' }, NONE), 'PCL_UNKNOWN_FIELD', ['(body)'])
  })

  it('415 PCL_BODY_UNREADABLE for strings, Buffers and objects that are not plain', () => {
    refused(video.check('{"title":"t"}', NONE), 'PCL_BODY_UNREADABLE')
    refused(video.check(Buffer.from('{}'), NONE), 'PCL_BODY_UNREADABLE')
    const nested = video.check({ title: new Date(0) }, NONE)
    refused(nested, 'PCL_BODY_UNREADABLE')
    if (!nested.ok) expect(nested.error.detail).toContain('a Date at title')
  })
})

describe('compileBodyRule: prototype keys never pass', () => {
  const strip = compileBodyRule({ writable: ['title', 'settings.*'], unknown: 'strip' })

  it.each(['__proto__', 'constructor', 'prototype'])(
    "refuses own '%s' keys from JSON.parse, in every mode and under '*'",
    (key) => {
      const top = JSON.parse(`{"title":"t","${key}":{"isAdmin":true}}`) as object
      expect(Object.keys(top)).toContain(key)
      for (const rule of [video, strip]) {
        const result = rule.check(top, ADMIN)
        refused(result, 'PCL_UNKNOWN_FIELD', [key])
        if (!result.ok) expect(result.always).toBe(true)
      }
      const nested = JSON.parse(`{"settings":{"${key}":1}}`) as object
      refused(strip.check(nested, NONE), 'PCL_UNKNOWN_FIELD', [`settings.${key}`])
    },
  )

  it('refuses them as declared paths at startup', () => {
    expect(() => compileBodyRule({ writable: ['owner.__proto__'] })).toThrow(/prototype pollution/)
  })
})

describe("compileBodyRule: unknown: 'strip'", () => {
  const rule = compileBodyRule({
    writable: ['title', 'chapters[].title'],
    byScope: { admin: ['ownerId'] },
    unknown: 'strip',
  })

  it('removes undeclared fields, at any depth, into a copy', () => {
    const body = { title: 't', role: 'admin', chapters: [{ title: 'a', at: 3 }, 'x'] }
    const result = rule.check(body, NONE)
    expect(result).toEqual({
      ok: true,
      body: { title: 't', chapters: [{ title: 'a' }] },
      removed: ['role', 'chapters[].at', 'chapters[]'],
    })
    expect(body.role).toBe('admin')
  })

  it('still refuses fields only a scope can write', () => {
    refused(rule.check({ title: 't', ownerId: 'x' }, NONE), 'PCL_FIELD_NOT_WRITABLE', ['ownerId'])
    expect(rule.check({ title: 't', ownerId: 'x' }, new Set(['admin'])).ok).toBe(true)
  })
})

describe('compileBodyRule: configuration', () => {
  it('summarizes the rule for the inventory', () => {
    expect(video.summary).toBe('5 fields (+3 by scope); reject')
    expect(compileBodyRule({ writable: ['a'], unknown: 'strip', maxBytes: 1024 }).summary).toBe(
      '1 field; strip; maxBytes 1024',
    )
    const passthrough = compileBodyRule({ passthrough: 'file upload, scanned downstream' })
    expect(passthrough.summary).toBe('passthrough: file upload, scanned downstream')
    expect(passthrough.mode).toBe('passthrough')
  })

  it.each([
    [{}, 'guard.body.writable'],
    [{ writable: ['a b'] }, 'guard.body.writable[0]'],
    [{ writable: ['a'], unknown: 'drop' }, 'guard.body.unknown'],
    [{ writable: ['a'], maxBytes: 0 }, 'guard.body.maxBytes'],
    [{ writable: ['a'], byScope: { 'a b': ['x'] } }, 'guard.body.byScope.a b'],
    [{ writable: ['a'], extra: true }, 'guard.body.extra'],
    [{ passthrough: ' ' }, 'guard.body.passthrough'],
    [{ writable: z.string() }, 'guard.body.writable'],
  ])('names the route and field of a bad rule: %j', (spec, field) => {
    let error: unknown
    try {
      compileBodyRule(spec, { route: 'POST /v1/videos' })
    } catch (err) {
      error = err
    }
    expect(isPortcullisConfigError(error)).toBe(true)
    expect(error).toMatchObject({ code: 'PCL_INVALID_GUARD', route: 'POST /v1/videos', field })
    expect((error as Error).message).toMatch(/^POST \/v1\/videos: guard\.body/)
  })

  it('refuses a byScope scope the route never grants', () => {
    expect(() =>
      compileBodyRule(
        { writable: ['a'], byScope: { 'videos:admn': ['b'] } },
        { route: 'POST /v', scopesGranted: new Set(['videos:admin']) },
      ),
    ).toThrow(/guard\.body\.byScope\.videos:admn names a scope this route never grants/)
  })
})

describe('compileBodyRule: what a refusal says', () => {
  const detail = (result: BodyCheck) => (result.ok ? undefined : result.error.detail)

  it('names what cannot be read, and where: the first such value only', () => {
    class Upload {}
    class ALongClassNameThatNoReportShouldEverCarryAsIs {}
    const stream = Object.assign(Object.create(Upload.prototype) as object, { pipe() {} })
    const cases: [unknown, string][] = [
      [{ title: 1n }, 'a BigInt at title'],
      [{ title: () => 1 }, 'a function at title'],
      [{ title: Symbol('s') }, 'a symbol at title'],
      [{ title: Buffer.from('x') }, 'a Buffer at title'],
      [{ title: stream }, 'a stream at title'],
      [{ title: new Upload() }, 'a Upload at title'],
      [
        { title: new ALongClassNameThatNoReportShouldEverCarryAsIs() },
        'an object that is not plain at title',
      ],
      [
        { title: Object.create(Object.create(null) as object) },
        'an object that is not plain at title',
      ],
      [{ tags: [new Date(0)], title: 1n }, 'a Date at tags[]'],
      [new Date(0), 'a Date'],
      ['{"title":"t"}', 'a string'],
      [Symbol('s'), 'a symbol'],
      [() => 1, 'a function'],
    ]
    for (const [body, what] of cases) {
      const result = video.check(body, NONE)
      refused(result, 'PCL_BODY_UNREADABLE', [])
      expect(detail(result)).toBe(`The request body holds ${what}, which the guard cannot read`)
    }
  })

  it('a body of the wrong shape says which shape the rule takes', () => {
    const both = compileBodyRule({ writable: ['title', '[].title'] })
    const list = compileBodyRule({ writable: ['[].title'] })
    const cases: [BodyCheck, string][] = [
      [video.check(42, NONE), 'an object'],
      [video.check(true, NONE), 'an object'],
      [video.check(1n, NONE), 'an object'],
      [video.check([], NONE), 'an object'],
      [both.check(42, NONE), 'an object or an array'],
      [list.check({}, NONE), 'an array'],
    ]
    for (const [result, shape] of cases) {
      refused(result, 'PCL_UNKNOWN_FIELD', ['(body)'])
      expect(detail(result)).toBe(`The request body must be ${shape}`)
    }
    expect(both.check({ title: 't' }, NONE).ok).toBe(true)
    expect(both.check([{ title: 't' }], NONE).ok).toBe(true)
  })

  it('an empty text or Buffer is no body; the same value is handed on', () => {
    const empty = Buffer.alloc(0)
    expect(video.check('', NONE)).toEqual({ ok: true, body: '', removed: [] })
    const result = video.check(empty, NONE)
    expect(result.ok && result.body).toBe(empty)
  })

  it('the strongest finding wins: prototype keys, then unreadable values, not writable, unknown', () => {
    const all = JSON.parse('{"__proto__":{},"role":"x","ownerId":"u"}') as Record<string, unknown>
    all.title = new Date(0)
    refused(video.check(all, NONE), 'PCL_UNKNOWN_FIELD', ['__proto__'])
    expect(detail(video.check(all, NONE))).toBe(
      'The request body holds keys that are never accepted: __proto__',
    )
    refused(
      video.check({ role: 'x', ownerId: 'u', title: new Date(0) }, NONE),
      'PCL_BODY_UNREADABLE',
    )
    refused(video.check({ role: 'x', ownerId: 'u' }, NONE), 'PCL_FIELD_NOT_WRITABLE', ['ownerId'])
    const unknown = video.check({ role: 'x', level: 1 }, NONE)
    refused(unknown, 'PCL_UNKNOWN_FIELD', ['role', 'level'])
    expect(detail(unknown)).toBe('Fields this route does not accept: role, level')
  })

  it('reports at most 20 paths per finding, each cut at 200 characters', () => {
    const many = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`k${i}`, 1]))
    const result = video.check(many, NONE)
    refused(result, 'PCL_UNKNOWN_FIELD')
    if (!result.ok) expect(result.fields).toEqual(Object.keys(many).slice(0, 20))
    const long = 'k'.repeat(300)
    refused(video.check({ [long]: 1 }, NONE), 'PCL_UNKNOWN_FIELD', [`${'k'.repeat(200)}…`])
    refused(video.check({ ['k'.repeat(200)]: 1 }, NONE), 'PCL_UNKNOWN_FIELD', ['k'.repeat(200)])
    const removed = compileBodyRule({ writable: ['a'], unknown: 'strip' }).check(many, NONE)
    expect(removed.ok && removed.removed).toHaveLength(20)
  })
})

describe("compileBodyRule: what 'strip' leaves must be writable too", () => {
  const rule = compileBodyRule({
    writable: ['title', 'description', 'chapters[].title', 'meta.lang', 'labels.*'],
    byScope: { admin: ['secret.a', 'flag', 'extra.*', 'owners[].id'] },
    unknown: 'strip',
  })
  const admin = new Set(['admin'])

  it('keeps the order and the values around what it removes', () => {
    const chapters = [{ title: 'a' }, 'x', { title: 'b', at: 1 }, { title: 'c' }]
    const body = { title: 't', role: 'x', description: 'd', chapters }
    expect(rule.check(body, NONE)).toEqual({
      ok: true,
      body: {
        title: 't',
        description: 'd',
        chapters: [{ title: 'a' }, { title: 'b' }, { title: 'c' }],
      },
      removed: ['role', 'chapters[]', 'chapters[].at'],
    })
  })

  it('an object or array emptied by the strip is written only where the principal may write', () => {
    expect(rule.check({ meta: { b: 1 } }, NONE)).toMatchObject({ ok: true, body: { meta: {} } })
    refused(rule.check({ secret: { b: 1 } }, NONE), 'PCL_FIELD_NOT_WRITABLE', ['secret'])
    expect(rule.check({ secret: { b: 1 } }, admin)).toMatchObject({ body: { secret: {} } })
    refused(rule.check({ flag: ['x'] }, NONE), 'PCL_FIELD_NOT_WRITABLE', ['flag'])
    expect(rule.check({ flag: ['x'] }, admin)).toMatchObject({ body: { flag: [] } })
    refused(rule.check({ owners: [{ b: 1 }] }, NONE), 'PCL_FIELD_NOT_WRITABLE', [
      'owners[]',
      'owners',
    ])
  })

  it("'*' takes scalars for whoever it is granted to, never objects", () => {
    expect(rule.check({ labels: { a: 1, b: null, c: 'x', d: true } }, NONE).ok).toBe(true)
    expect(rule.check({ labels: { a: { b: 1 } } }, NONE)).toMatchObject({
      body: { labels: {} },
      removed: ['labels.a'],
    })
    refused(rule.check({ extra: { a: 1 } }, NONE), 'PCL_FIELD_NOT_WRITABLE', ['extra.a', 'extra'])
    expect(rule.check({ extra: { a: 1 } }, admin).ok).toBe(true)
  })
})

describe('compileBodyRule: startup checks', () => {
  const attempt = (spec: unknown, scopesGranted?: ReadonlySet<string>) => {
    try {
      compileBodyRule(spec, { route: 'POST /v', scopesGranted })
    } catch (err) {
      return err as Error
    }
    return undefined
  }

  it('names the scopes a route grants, or says it grants none', () => {
    const spec = { writable: ['a'], byScope: { 'videos:admn': ['b'] } }
    expect(attempt(spec, new Set(['videos:read', 'videos:admin']))?.message).toBe(
      'POST /v: guard.body.byScope.videos:admn names a scope this route never grants (it grants videos:read, videos:admin): its fields could never be written',
    )
    expect(attempt(spec, new Set())?.message).toContain('(it grants no scope)')
    expect(attempt(spec)).toBeUndefined()
    expect(attempt(spec, new Set(['videos:admn']))).toBeUndefined()
  })

  it('takes at most 30 scopes in byScope', () => {
    const scopes = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, [`f${i}`]]))
    const thirty = compileBodyRule({ writable: ['a'], byScope: scopes(30) })
    // The 30th scope still has its own bit.
    expect(thirty.check({ f29: 1 }, new Set(['s29'])).ok).toBe(true)
    refused(thirty.check({ f29: 1 }, new Set(['s28'])), 'PCL_FIELD_NOT_WRITABLE', ['f29'])
    const err = attempt({ writable: ['a'], byScope: scopes(31) })
    expect(isPortcullisConfigError(err)).toBe(true)
    expect(err).toMatchObject({ code: 'PCL_INVALID_GUARD', field: 'guard.body.byScope' })
    expect(err?.message).toBe(
      'POST /v: guard.body.byScope names 31 scopes; at most 30 scopes may widen a body',
    )
  })

  it('a zod schema of a shape it cannot take names the field and why', () => {
    const err = attempt({ writable: z.object({ settings: z.object({ constructor: z.string() }) }) })
    expect(isPortcullisConfigError(err)).toBe(true)
    expect(err).toMatchObject({ code: 'PCL_INVALID_GUARD', field: 'guard.body.writable' })
    expect(err?.message).toMatch(
      /^POST \/v: guard\.body\.writable settings\S* declares 'constructor', a key that is never copied \(prototype pollution\)/,
    )
  })

  it('passes on an error of the zod schema that is not about its shape', () => {
    const boom = new Error('schema getter failed')
    const writable = z.object({
      a: z.lazy(() => {
        throw boom
      }),
    })
    expect(attempt({ writable })).toBe(boom)
  })

  it('a passthrough checks nothing and limits nothing', () => {
    const rule = compileBodyRule({ passthrough: '  file upload  ' })
    expect(rule.summary).toBe('passthrough: file upload')
    expect(rule.maxBytes).toBeNull()
    const body = { anything: new Date(0) }
    expect(rule.check(body, NONE)).toEqual({ ok: true, body, removed: [] })
  })
})

describe("compileBodyRule: '*' and declared keys add up", () => {
  it("a key declared under '*' still takes a scalar, as '*' allows", () => {
    const rule = compileBodyRule({ writable: ['stats.*', 'stats.daily[]'] })
    expect(rule.check({ stats: { daily: 5, weekly: 7 } }, NONE).ok).toBe(true)
    expect(rule.check({ stats: { daily: [5] } }, NONE).ok).toBe(true)
    refused(rule.check({ stats: { weekly: [7] } }, NONE), 'PCL_UNKNOWN_FIELD', ['stats.weekly'])
  })

  it("a top-level '*' makes the body an object, beside a top-level array", () => {
    const rule = compileBodyRule({ writable: ['*', '[].id'] })
    expect(rule.check({ a: 1 }, NONE).ok).toBe(true)
    expect(rule.check([{ id: 1 }], NONE).ok).toBe(true)
  })
})

describe('compileBodyRule: not writable, or unknown', () => {
  const rule = compileBodyRule({
    writable: ['title', 'meta.lang'],
    byScope: { admin: ['meta', 'secret.a'] },
  })

  it('a value some scope may write there is not writable, even under a writable field', () => {
    refused(rule.check({ meta: 'x' }, NONE), 'PCL_FIELD_NOT_WRITABLE', ['meta'])
    expect(rule.check({ meta: 'x' }, new Set(['admin'])).ok).toBe(true)
  })

  it('a node only a scope reaches is not writable, whatever it holds, even nothing', () => {
    refused(rule.check({ secret: 'x' }, NONE), 'PCL_FIELD_NOT_WRITABLE', ['secret'])
    refused(rule.check({ secret: {} }, NONE), 'PCL_FIELD_NOT_WRITABLE', ['secret'])
    refused(rule.check({ secret: [] }, NONE), 'PCL_FIELD_NOT_WRITABLE', ['secret'])
    expect(rule.check({ secret: {} }, new Set(['admin'])).ok).toBe(true)
  })

  it('an undefined value (a body a handler built) is a scalar; a typed array is not a Buffer', () => {
    expect(rule.check({ title: undefined }, NONE).ok).toBe(true)
    const typed = rule.check({ title: new Uint8Array(1) }, NONE)
    refused(typed, 'PCL_BODY_UNREADABLE')
    if (!typed.ok) expect(typed.error.detail).toContain('a Uint8Array at title')
  })
})
