import { isPortcullisError } from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import {
  compileAllowlist,
  type CompiledAllowlist,
  type ProjectionContext,
} from './compile-allowlist.js'

const anonymous: ProjectionContext = { status: 200, scopes: new Set() }

/**
 * Projects on both paths (generated strip code, and the audited interpreter) and checks that
 * they agree; returns the value and the removed paths.
 */
function project(
  allowlist: CompiledAllowlist,
  body: unknown,
  context: ProjectionContext = anonymous,
): { value: unknown; removed: readonly string[] } {
  const fast = allowlist.project(body, context)
  const audited = allowlist.project(body, { ...context, collectRemoved: true })
  if (!fast.ok) throw fast.error
  if (!audited.ok) throw audited.error
  expect(fast.removed).toEqual([])
  // Strictly: a key written with an undefined value is a difference too.
  expect(audited.value).toStrictEqual(fast.value)
  return { value: fast.value, removed: audited.removed }
}

function failure(allowlist: CompiledAllowlist, body: unknown, context = anonymous) {
  const result = allowlist.project(body, context)
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.value)}`)
  // The audited path fails the same way.
  const audited = allowlist.project(body, { ...context, collectRemoved: true })
  expect(audited.ok).toBe(false)
  return result.error
}

function allow(paths: string[], rest: object = {}): CompiledAllowlist {
  return compileAllowlist({ allow: paths, ...rest }, { route: 'GET /t' })
}

const video = {
  id: 'v1',
  title: 'Jazz',
  uploadIp: '10.0.0.1',
  owner: { id: 'u1', name: 'Ada', email: 'ada@example.test', address: { city: 'Paris' } },
  tags: ['live', 'jazz'],
  items: [
    { title: 'Intro', storagePath: '/mnt/a', meta: { codec: 'h264' } },
    { title: 'Main', storagePath: '/mnt/b' },
  ],
  stats: { views: 10, likes: 2, history: [{ user: 'u2' }], extra: { a: 1 }, none: null },
}

describe('project: path forms', () => {
  it('keeps keys, nested keys, arrays of scalars, arrays of objects and scalar wildcards', () => {
    const { value, removed } = project(
      allow(['id', 'owner.id', 'tags[]', 'items[].title', 'stats.*']),
      video,
    )
    expect(value).toEqual({
      id: 'v1',
      owner: { id: 'u1' },
      tags: ['live', 'jazz'],
      items: [{ title: 'Intro' }, { title: 'Main' }],
      stats: { views: 10, likes: 2, none: null },
    })
    expect([...removed].sort()).toEqual(
      [
        'items[].meta',
        'items[].storagePath',
        'owner.address',
        'owner.email',
        'owner.name',
        'stats.extra',
        'stats.history',
        'title',
        'uploadIp',
      ].sort(),
    )
  })

  it('keeps declared keys in declaration order, and wildcard keys in input order', () => {
    const { value } = project(allow(['title', 'id', 'stats.*']), video)
    expect(Object.keys(value as object)).toEqual(['title', 'id', 'stats'])
    expect(Object.keys((value as { stats: object }).stats)).toEqual(['views', 'likes', 'none'])
  })

  it('projects a top-level array of objects and of scalars', () => {
    expect(project(allow(['[].id']), [{ id: 1, x: 2 }, { id: 2 }]).value).toEqual([
      { id: 1 },
      { id: 2 },
    ])
    expect(project(allow(['[]']), [1, 'a', true, null]).value).toEqual([1, 'a', true, null])
    expect(project(allow(['[].*']), [{ a: 1, b: { c: 1 } }]).value).toEqual([{ a: 1 }])
    expect(project(allow(['*']), { a: 1, b: [1], c: 'x' }).value).toEqual({ a: 1, c: 'x' })
  })

  it('projects arrays of arrays', () => {
    expect(project(allow(['m[][]']), { m: [[1, 2], [3], 'x'] }).value).toEqual({
      m: [[1, 2], [3], null],
    })
    expect(project(allow(['m[][].id']), { m: [[{ id: 1, s: 2 }]] }).value).toEqual({
      m: [[{ id: 1 }]],
    })
  })

  it('keeps a path that ends at an object or array empty: nothing below is declared', () => {
    const { value, removed } = project(allow(['owner', 'tags']), video)
    expect(value).toEqual({ owner: {}, tags: [] })
    expect(removed).toEqual(expect.arrayContaining(['owner.id', 'owner.email', 'tags[]']))
  })

  it('combines a wildcard with nested paths under it', () => {
    const { value } = project(allow(['stats.*', 'stats.history[].user']), video)
    expect(value).toEqual({
      stats: { views: 10, likes: 2, history: [{ user: 'u2' }], none: null },
    })
  })

  it('keeps null wherever a path leads, and drops scalars where an object is declared', () => {
    expect(project(allow(['owner.id', 'tags[]']), { owner: null, tags: null }).value).toEqual({
      owner: null,
      tags: null,
    })
    const { value, removed } = project(allow(['owner.id', 'tags[]']), { owner: 'u1', tags: 'x' })
    expect(value).toEqual({})
    expect(removed).toEqual(['owner', 'tags'])
  })

  it('writes null for array elements that do not fit, keeping positions', () => {
    const { value, removed } = project(allow(['items[].title']), {
      items: [{ title: 'a' }, 'text', [1], undefined, () => 1],
    })
    expect(value).toEqual({ items: [{ title: 'a' }, null, null, null, null] })
    expect(removed).toEqual(['items[]'])
  })

  it('turns holes, undefined, functions and symbols in arrays into null, as JSON does', () => {
    const a: unknown[] = [1]
    a[2] = 3
    a.push(undefined, Symbol('s'), () => 1)
    expect(Object.hasOwn(a, 1)).toBe(false)
    const { value } = project(allow(['a[]']), { a })
    expect(value).toEqual({ a: [1, null, 3, null, null, null] })
    expect(JSON.stringify(value)).toBe(JSON.stringify({ a }))
  })

  it('omits undefined, functions and symbols in objects, without reporting them', () => {
    const { value, removed } = project(allow(['a', 'b', 'c', 'd']), {
      a: undefined,
      b: () => 1,
      c: Symbol('s'),
      d: 0,
      e: undefined,
      f: () => 2,
    })
    expect(value).toEqual({ d: 0 })
    expect(removed).toEqual([])
  })

  it('keeps the body type but nothing else for a body of another shape', () => {
    expect(project(allow(['id']), [{ id: 1 }]).value).toEqual([])
    expect(project(allow(['[].id']), { id: 1 }).value).toEqual({})
    const scalar = project(allow(['id']), 'a string body')
    expect(scalar.value).toBeNull()
    expect(scalar.removed).toEqual(['(body)'])
    expect(allow(['id']).project(undefined, anonymous)).toEqual({
      ok: true,
      value: undefined,
      removed: [],
    })
  })

  it('returns new objects and arrays and never mutates the input', () => {
    const input = structuredClone(video)
    const snapshot = JSON.stringify(input)
    const { value } = project(allow(['owner.*', 'tags[]', 'items[].title', 'stats.*']), input)
    expect(JSON.stringify(input)).toBe(snapshot)
    const out = value as typeof video
    expect(out.owner).not.toBe(input.owner)
    expect(out.tags).not.toBe(input.tags)
    expect(out.items[0]).not.toBe(input.items[0])
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype)
  })

  it('projects frozen and null-prototype inputs', () => {
    const dict = Object.assign(Object.create(null) as object, { id: 1, secret: 2 })
    expect(project(allow(['id']), Object.freeze({ id: 1, s: 2 })).value).toEqual({ id: 1 })
    expect(project(allow(['id']), dict).value).toEqual({ id: 1 })
  })
})

describe('project: JSON semantics of kept values', () => {
  it('calls toJSON once per value, with its key, and projects the result', () => {
    const calls: string[] = []
    class Money {
      constructor(readonly cents: number) {}
      toJSON(key: string) {
        calls.push(key)
        return { amount: this.cents / 100, currency: 'EUR', internal: 'x' }
      }
    }
    const body = { price: new Money(150), list: [new Money(1), new Money(2)] }
    const compiled = allow(['price.amount', 'list[].currency'])
    const result = compiled.project(body, anonymous)
    expect(result).toEqual({
      ok: true,
      value: { price: { amount: 1.5 }, list: [{ currency: 'EUR' }, { currency: 'EUR' }] },
      removed: [],
    })
    expect(calls).toEqual(['price', '0', '1'])
  })

  it('serializes Dates and Buffers through their toJSON', () => {
    const when = new Date('2024-01-02T03:04:05.000Z')
    expect(project(allow(['when', 'dates[]']), { when, dates: [when] }).value).toEqual({
      when: '2024-01-02T03:04:05.000Z',
      dates: ['2024-01-02T03:04:05.000Z'],
    })
    const file = Buffer.from('hi')
    expect(project(allow(['file.type', 'file.data[]']), { file }).value).toEqual({
      file: { type: 'Buffer', data: [104, 105] },
    })
    // A Buffer where a scalar is declared is not a scalar: its toJSON result is an object.
    expect(project(allow(['file']), { file }).value).toEqual({ file: {} })
  })

  it('projects a class instance by its own enumerable fields, never its prototype', () => {
    let prototypeGetter = 0
    class User {
      id = 'u1'
      password = 'hunter2'
      get display() {
        prototypeGetter++
        return 'Ada'
      }
    }
    const { value } = project(allow(['user.id', 'user.display', 'user.password2']), {
      user: new User(),
    })
    expect(value).toEqual({ user: { id: 'u1' } })
    expect(prototypeGetter).toBe(0)
  })

  it("never reveals an Error's message or stack, which JSON omits", () => {
    const { value } = project(allow(['error.message', 'error.stack', 'error.code']), {
      error: Object.assign(new Error('db password is x'), { code: 'E1' }),
    })
    expect(value).toEqual({ error: { code: 'E1' } })
  })

  it('invokes an own getter once when its key is kept, and never otherwise', () => {
    let kept = 0
    let other = 0
    const body = {
      get name() {
        kept++
        return 'Ada'
      },
      get secret() {
        other++
        return 's'
      },
    }
    const compiled = allow(['name'])
    expect(compiled.project(body, anonymous)).toMatchObject({ value: { name: 'Ada' } })
    expect(kept).toBe(1)
    const audited = compiled.project(body, { ...anonymous, collectRemoved: true })
    expect(audited).toMatchObject({ value: { name: 'Ada' }, removed: ['secret'] })
    expect(kept).toBe(2)
    expect(other).toBe(0)
  })

  it('serializes a Map or a Set as JSON does: an object without keys', () => {
    const body = { m: new Map([['a', 1]]), s: new Set([1]) }
    expect(JSON.stringify(body)).toBe('{"m":{},"s":{}}')
    expect(project(allow(['m.*', 's.a', 'x']), body).value).toEqual({ m: {}, s: {} })
    expect(project(allow(['m[]']), body).value).toEqual({})
  })

  it('unboxes boxed primitives', () => {
    const body = { n: Object(1) as unknown, s: Object('a') as unknown, b: Object(false) as unknown }
    expect(project(allow(['n', 's', 'b']), body).value).toEqual({ n: 1, s: 'a', b: false })
  })

  it('keeps NaN and Infinity as numbers (JSON writes null)', () => {
    const { value } = project(allow(['a', 'b']), { a: Number.NaN, b: Infinity })
    expect(JSON.stringify(value)).toBe('{"a":null,"b":null}')
  })

  it('refuses a kept BigInt without toJSON, and ignores one that is not kept', () => {
    const error = failure(allow(['n']), { n: 1n })
    expect(error.code).toBe('PCL_RESPONSE_REJECTED')
    expect(error.message).toMatch(/BigInt at n/)
    expect(project(allow(['id']), { id: 1, n: 1n }).value).toEqual({ id: 1 })
  })
})

describe('project: prototype pollution', () => {
  it('never copies __proto__, constructor or prototype keys and never pollutes', () => {
    const body = JSON.parse(
      '{"id":1,"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"prototype":1,"nested":{"__proto__":{"polluted":1},"ok":1}}',
    ) as unknown
    const wildcard = project(allow(['*', 'nested.*']), body)
    const declared = project(allow(['id', 'nested.ok']), body)
    for (const { value } of [wildcard, declared]) {
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
      expect(Object.keys(value as object)).not.toContain('__proto__')
      expect(Object.hasOwn(value as object, 'constructor')).toBe(false)
      expect(Object.hasOwn(value as object, 'prototype')).toBe(false)
    }
    expect(wildcard.value).toEqual({ id: 1, nested: { ok: 1 } })
    expect(wildcard.removed).toEqual(
      expect.arrayContaining(['__proto__', 'constructor', 'prototype', 'nested.__proto__']),
    )
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('polluted')
  })

  it.each([
    ['a wildcard', ['id', 'stats.*']],
    ['declared keys', ['id', 'stats.views']],
  ])(
    'a `__proto__` key with a scalar value: listed in removed when stripped, refused in reject mode (%s)',
    (_name, paths) => {
      for (const [text, path] of [
        ['{ "id": 1, "stats": { "__proto__": 1 } }', 'stats.__proto__'],
        ['{ "id": 1, "stats": { "__proto__": "x" } }', 'stats.__proto__'],
        ['{ "id": 1, "stats": { "__proto__": null } }', 'stats.__proto__'],
        ['{ "id": 1, "stats": {}, "__proto__": true }', '__proto__'],
      ] as const) {
        const body = JSON.parse(text) as unknown
        const stripped = project(allow(paths), body)
        expect(stripped.value, text).toEqual({ id: 1, stats: {} })
        expect(Object.getPrototypeOf((stripped.value as { stats: object }).stats)).toBe(
          Object.prototype,
        )
        expect(stripped.removed, text).toContain(path)
        const rejected = allow(paths, { mode: 'reject' }).project(body, anonymous)
        expect(rejected.ok, text).toBe(false)
        if (rejected.ok) continue
        expect(rejected.error.code, text).toBe('PCL_RESPONSE_REJECTED')
        expect(rejected.removed, text).toContain(path)
      }
    },
  )

  it('never reads a declared key through a polluted Object.prototype', () => {
    const declared = allow(['id', 'isAdmin'])
    const list = allow(['a[]'])
    const proto = Object.prototype as Record<string | number, unknown>
    proto['isAdmin'] = true
    proto[1] = 'polluted'
    try {
      expect(project(declared, { id: 1 }).value).toEqual({ id: 1 })
      const holey: unknown[] = [1]
      holey[2] = 3
      expect(project(list, { a: holey }).value).toEqual({ a: [1, null, 3] })
    } finally {
      delete proto['isAdmin']
      delete proto[1]
    }
  })
})

describe('project: failures are error results, never partial bodies', () => {
  it('refuses a cyclic value on a kept path', () => {
    const owner: Record<string, unknown> = { id: 'u1' }
    owner['self'] = owner
    const error = failure(allow(['owner.self.id']), { owner })
    expect(isPortcullisError(error, 'PCL_RESPONSE_REJECTED')).toBe(true)
    expect(error.message).toMatch(/cyclic at owner\.self/)
    const list: unknown[] = []
    list.push(list)
    expect(failure(allow(['[][]']), list).code).toBe('PCL_RESPONSE_REJECTED')
  })

  it('refuses a cycle built by toJSON', () => {
    const node: Record<string, unknown> = {}
    node['child'] = { toJSON: () => node }
    expect(failure(allow(['child.child.x']), node).code).toBe('PCL_RESPONSE_REJECTED')
  })

  it('strips a cycle that only runs through undeclared fields', () => {
    const row: Record<string, unknown> = { id: 1 }
    row['parent'] = row
    expect(project(allow(['id']), row).value).toEqual({ id: 1 })
  })

  it('refuses a body whose toJSON or getter throws, keeping the cause', () => {
    const boom = new Error('boom')
    const thrower = {
      toJSON() {
        throw boom
      },
    }
    const error = failure(allow(['a.x']), { a: thrower })
    expect(error.code).toBe('PCL_RESPONSE_REJECTED')
    expect(error.cause).toBe(boom)
    expect(error.message).not.toMatch(/boom/)
    const getter = {
      get a() {
        throw boom
      },
    }
    expect(failure(allow(['a']), getter).cause).toBe(boom)
  })
})

describe('project: strip and reject', () => {
  const spec = { allow: ['id', 'owner.id', 'items[].title'], mode: 'reject' as const }

  it('lets a body with only declared fields through in reject mode', () => {
    const compiled = compileAllowlist(spec)
    expect(compiled.mode).toBe('reject')
    const body = { id: 1, owner: { id: 2 }, items: [{ title: 't' }] }
    expect(compiled.project(body, anonymous)).toEqual({ ok: true, value: body, removed: [] })
  })

  it('refuses undeclared fields in reject mode, naming paths and never values', () => {
    const compiled = compileAllowlist(spec)
    const error = failure(compiled, {
      id: 1,
      owner: { id: 2, email: 'ada@example.test' },
      items: [{ title: 't', storagePath: '/mnt/secret' }],
      passwordHash: 'abc123',
    })
    expect(error.code).toBe('PCL_RESPONSE_REJECTED')
    expect(error.message).toMatch(/owner\.email/)
    expect(error.message).toMatch(/items\[\]\.storagePath/)
    expect(error.message).toMatch(/passwordHash/)
    expect(error.message).not.toMatch(/ada@example|secret|abc123/)
    // Paths stay in the server-side message: the client's problem+json gets no detail.
    expect(error.detail).toBeUndefined()
  })

  it('strips error bodies in reject mode instead of refusing them', () => {
    const compiled = compileAllowlist(spec)
    const result = compiled.project(
      { code: 'X', title: 'Not found', stack: 'at db.js:1' },
      { status: 404, scopes: new Set() },
    )
    expect(result).toEqual({ ok: true, value: { title: 'Not found', code: 'X' }, removed: [] })
  })

  it('reports removed paths deduplicated and at most 20', () => {
    const body = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]))
    const items = {
      items: [
        { a: 1, b: 2 },
        { a: 1, b: 2 },
      ],
    }
    expect(project(allow([]), body).removed).toHaveLength(20)
    expect(project(allow(['items[].a']), items).removed).toEqual(['items[].b'])
  })
})

describe('project: maxItems', () => {
  it('caps the top-level array, before any element is read', () => {
    let reads = 0
    const element = {
      get id() {
        reads++
        return 1
      },
    }
    const compiled = allow(['[].id'], { maxItems: 2 })
    expect(project(compiled, [element, element]).value).toEqual([{ id: 1 }, { id: 1 }])
    reads = 0
    const error = failure(compiled, [element, element, element])
    expect(error.code).toBe('PCL_TOO_MANY_ITEMS')
    expect(error.message).toBe('The response array carries 3 items, over its maxItems of 2')
    expect(reads).toBe(0)
  })

  it('caps every array the allowlist reaches with a number, nested ones included', () => {
    const compiled = allow(['items[].tags[]'], { maxItems: 2 })
    expect(failure(compiled, { items: [{ tags: [1, 2, 3] }] }).message).toMatch(
      /The array items\[\]\.tags\[\] carries 3 items, over its maxItems of 2/,
    )
    // An undeclared array is stripped, not counted.
    expect(project(compiled, { items: [], other: [1, 2, 3] }).value).toEqual({ items: [] })
  })

  it('caps named arrays, in both modes', () => {
    const compiled = allow(['items[].id', 'tags[]'], {
      maxItems: { paths: { 'items[]': 1 } },
      mode: 'reject',
    })
    expect(failure(compiled, { items: [{ id: 1 }, { id: 2 }] }).code).toBe('PCL_TOO_MANY_ITEMS')
    expect(compiled.project({ tags: [1, 2, 3, 4] }, anonymous).ok).toBe(true)
  })

  it('raises caps per scope: the highest cap among the scopes held', () => {
    const compiled = compileAllowlist(
      {
        allow: ['[].id', '[].tags[]'],
        maxItems: {
          default: 2,
          paths: { '[].tags[]': 1 },
          byScope: { bulk: 5, huge: { default: 3, paths: { '[].tags[]': 4 } } },
        },
      },
      { scopesGranted: new Set(['bulk', 'huge', 'read']) },
    )
    const rows = (n: number, tags = 0) =>
      Array.from({ length: n }, (_, i) => ({
        id: i,
        tags: Array.from({ length: tags }, () => 't'),
      }))
    const as = (...scopes: string[]) => ({ status: 200, scopes: new Set(scopes) })
    expect(compiled.project(rows(2), as('read')).ok).toBe(true)
    expect(failure(compiled, rows(3), as('read')).code).toBe('PCL_TOO_MANY_ITEMS')
    expect(compiled.project(rows(3), as('huge')).ok).toBe(true)
    expect(compiled.project(rows(5), as('bulk')).ok).toBe(true)
    expect(compiled.project(rows(5), as('bulk', 'huge')).ok).toBe(true)
    expect(failure(compiled, rows(6), as('bulk', 'huge')).code).toBe('PCL_TOO_MANY_ITEMS')
    // tags: 1 by default; bulk raises the default (5) above the named cap; huge names 4.
    expect(failure(compiled, rows(1, 2), as('read')).code).toBe('PCL_TOO_MANY_ITEMS')
    expect(compiled.project(rows(1, 4), as('huge')).ok).toBe(true)
    expect(compiled.project(rows(1, 5), as('bulk')).ok).toBe(true)
    expect(failure(compiled, rows(1, 6), as('bulk', 'huge')).code).toBe('PCL_TOO_MANY_ITEMS')
  })
})

describe('project: byScope and byStatus', () => {
  const compiled = compileAllowlist(
    {
      allow: ['id', 'title'],
      byScope: { 'videos:internal': ['uploadIp', 'owner.email'], 'videos:stats': ['stats.*'] },
      byStatus: { '206': ['id'], '404': ['code', 'detail'], '4xx': ['title', 'hint'] },
    },
    { scopesGranted: new Set(['videos:read', 'videos:internal', 'videos:stats']) },
  )
  const with_ = (status: number, ...scopes: string[]) => ({ status, scopes: new Set(scopes) })

  it('adds byScope fields only for principals holding the scope', () => {
    expect(project(compiled, video, with_(200)).value).toEqual({ id: 'v1', title: 'Jazz' })
    expect(project(compiled, video, with_(200, 'videos:read', 'videos:internal')).value).toEqual({
      id: 'v1',
      title: 'Jazz',
      uploadIp: '10.0.0.1',
      owner: { email: 'ada@example.test' },
    })
    expect(
      project(compiled, video, with_(200, 'videos:internal', 'videos:stats')).value,
    ).toMatchObject({ uploadIp: '10.0.0.1', stats: { views: 10, likes: 2, none: null } })
  })

  it('picks the exact status over its class, then allow below 400, then problem+json', () => {
    const problem = {
      type: 'about:blank',
      title: 'Oops',
      status: 500,
      code: 'X',
      detail: 'd',
      instance: '/i',
      hint: 'h',
      stack: 'at x',
    }
    expect(project(compiled, video, with_(206)).value).toEqual({ id: 'v1' })
    expect(project(compiled, problem, with_(404)).value).toEqual({ code: 'X', detail: 'd' })
    expect(project(compiled, problem, with_(403)).value).toEqual({ title: 'Oops', hint: 'h' })
    expect(project(compiled, problem, with_(503)).value).toEqual({
      type: 'about:blank',
      title: 'Oops',
      status: 500,
      code: 'X',
      detail: 'd',
      instance: '/i',
    })
    expect(project(compiled, video, with_(201)).value).toEqual({ id: 'v1', title: 'Jazz' })
    expect(project(compiled, video, with_(302)).value).toEqual({ id: 'v1', title: 'Jazz' })
  })

  it('never adds byScope fields to error bodies', () => {
    const body = { title: 'Oops', uploadIp: '10.0.0.1' }
    expect(project(compiled, body, with_(500, 'videos:internal')).value).toEqual({ title: 'Oops' })
  })
})

describe('project: passthrough and schema-derived allowlists', () => {
  it('passes success bodies through untouched and reduces error bodies', () => {
    const compiled = compileAllowlist({ passthrough: 'binary stream' })
    expect(compiled.mode).toBe('passthrough')
    const body = { anything: 1 }
    const result = compiled.project(body, anonymous)
    expect(result.ok && result.value).toBe(body)
    expect(
      project(compiled, { title: 't', stack: 's' }, { status: 500, scopes: new Set() }).value,
    ).toEqual({
      title: 't',
    })
  })

  it("derives fields from a Fastify response schema for 'schema'", () => {
    const compiled = compileAllowlist('schema', {
      schema: {
        200: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            owner: { type: 'object', properties: { id: { type: 'string' } } },
            tags: { type: 'array', items: { type: 'string' } },
            items: {
              type: 'array',
              items: { type: 'object', properties: { title: { type: 'string' } } },
            },
            meta: { type: 'object', additionalProperties: true },
          },
        },
        '4xx': { type: 'object', properties: { message: { type: 'string' } } },
      },
    })
    expect(project(compiled, video).value).toEqual({
      id: 'v1',
      owner: { id: 'u1' },
      tags: ['live', 'jazz'],
      items: [{ title: 'Intro' }, { title: 'Main' }],
    })
    expect(
      project(compiled, { message: 'm', code: 'c' }, { status: 400, scopes: new Set() }).value,
    ).toEqual({ message: 'm' })
    expect(
      project(compiled, { message: 'm', code: 'c' }, { status: 500, scopes: new Set() }).value,
    ).toEqual({ code: 'c' })
  })

  it('survives a toJSON that projects another response', () => {
    const inner = allow(['a'])
    const outer = allow(['x.a', 'y'])
    const body = {
      x: {
        toJSON() {
          const result = inner.project({ a: 1, b: 2 }, anonymous)
          return result.ok ? result.value : null
        },
      },
      y: 2,
    }
    expect(project(outer, body).value).toEqual({ x: { a: 1 }, y: 2 })
  })
})

// Each test below pins a behaviour that a surviving mutant of project-value.ts changed without
// any other test noticing (see docs/reliability.md, "Mutation testing").
describe('project: serialization edges JSON.stringify defines', () => {
  it('never copies a `constructor` or `prototype` key with a scalar value under a wildcard', () => {
    const body = JSON.parse('{ "stats": { "views": 1, "constructor": 2, "prototype": 3 } }')
    const { value, removed } = project(allow(['stats.*']), body)
    expect(value).toEqual({ stats: { views: 1 } })
    expect(Object.hasOwn((value as { stats: object }).stats, 'constructor')).toBe(false)
    expect(Object.hasOwn((value as { stats: object }).stats, 'prototype')).toBe(false)
    expect([...removed].sort()).toEqual(['stats.constructor', 'stats.prototype'])
  })

  it('calls toJSON on functions and BigInts, and passes it the key as a string', () => {
    const fn = Object.assign(() => 1, { toJSON: () => 'from a function' })
    const proto = BigInt.prototype as { toJSON?: () => string }
    proto.toJSON = function toJSON(this: bigint) {
      return `${this.toString()}n`
    }
    try {
      expect(project(allow(['f', 'n']), { f: fn, n: 12n }).value).toEqual({
        f: 'from a function',
        n: '12n',
      })
    } finally {
      delete proto.toJSON
    }
    const keyed = { toJSON: (key: unknown) => key }
    const { value } = project(allow(['list[]', 'one']), { list: [keyed, keyed], one: keyed })
    expect(value).toEqual({ list: ['0', '1'], one: 'one' })
    expect(JSON.parse(JSON.stringify({ list: [keyed, keyed], one: keyed }))).toEqual(value)
  })

  it('refuses a boxed BigInt as JSON does, and drops a BigInt where no scalar is allowed', () => {
    const error = failure(allow(['n']), { n: Object(1n) as object })
    expect(error.code).toBe('PCL_RESPONSE_REJECTED')
    expect(error.message).toMatch(/BigInt at n/)
    expect(project(allow(['items[].title']), { items: [1n] }).value).toEqual({ items: [null] })
  })

  it('keeps a declared non-enumerable key of a plain object, and drops it on other objects', () => {
    // Plain objects are checked for ownership only (the fast path); other objects as JSON does.
    const plain = Object.defineProperty({ id: 1 }, 'secret', { value: 's', enumerable: false })
    expect(project(allow(['id', 'secret']), plain).value).toEqual({ id: 1, secret: 's' })
    const bare = Object.defineProperty(
      Object.assign(Object.create(null) as object, { id: 1 }),
      'secret',
      {
        value: 's',
        enumerable: false,
      },
    )
    expect(project(allow(['id', 'secret']), bare).value).toEqual({ id: 1, secret: 's' })
    class Row {
      id = 1
    }
    const instance = Object.defineProperty(new Row(), 'secret', { value: 's', enumerable: false })
    expect(project(allow(['id', 'secret']), instance).value).toEqual({ id: 1 })
  })

  it('writes no key for undefined, function and symbol values, declared or under a wildcard', () => {
    const body = { id: 1, u: undefined, f: () => 1, s: Symbol('s'), stats: { u: undefined, v: 1 } }
    const { value } = project(allow(['id', 'u', 'f', 's', 'stats.*']), body)
    expect(Object.keys(value as object)).toEqual(['id', 'stats'])
    expect(Object.keys((value as { stats: object }).stats)).toEqual(['v'])
  })

  it('reads an own key named "undefined" as any other key', () => {
    const body = { id: 1, undefined: 'x' }
    expect(project(allow(['id']), body)).toEqual({ value: { id: 1 }, removed: ['undefined'] })
    expect(project(allow(['id', 'undefined']), body).value).toEqual(body)
  })

  it('reports no undeclared key that JSON would not write (undefined, functions, symbols, setters)', () => {
    const body = Object.defineProperty({ id: 1, u: undefined, f: () => 1, s: Symbol('s') }, 'w', {
      set: () => undefined,
      enumerable: true,
    })
    expect(project(allow(['id']), body).removed).toEqual([])
    const getter = Object.defineProperty({ id: 1 }, 'g', { get: () => 2, enumerable: true })
    expect(project(allow(['id']), getter).removed).toEqual(['g'])
  })

  it('reports at most 20 removed paths, from undeclared keys and from dropped values alike', () => {
    const keys = (prefix: string, n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 1]))
    const undeclared = { a: keys('k', 25), b: keys('k', 5) }
    expect(project(allow(['a.x', 'b.x']), undeclared).removed).toHaveLength(20)
    const dropped = {
      stats: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`o${i}`, {}])),
    }
    const { value, removed } = project(allow(['stats.*']), dropped)
    expect(value).toEqual({ stats: {} })
    expect(removed).toHaveLength(20)
  })

  it('cuts a reported path after 200 characters', () => {
    const long = 'k'.repeat(300)
    const { removed } = project(allow(['id']), { id: 1, [long]: 1 })
    expect(removed).toEqual([`${'k'.repeat(200)}…`])
    const exact = 'e'.repeat(200)
    expect(project(allow(['id']), { id: 1, [exact]: 1 }).removed).toEqual([exact])
  })
})
