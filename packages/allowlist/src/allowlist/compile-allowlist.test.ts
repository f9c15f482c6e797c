import { isPortcullisConfigError, type PortcullisConfigError } from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { compileAllowlist, type CompileAllowlistOptions } from './compile-allowlist.js'

const route = 'GET /v1/videos/:id'
const none: ReadonlySet<string> = new Set()

function configError(spec: unknown, options: CompileAllowlistOptions = {}): PortcullisConfigError {
  try {
    compileAllowlist(spec, { route, ...options })
  } catch (err) {
    if (isPortcullisConfigError(err) && err.code === 'PCL_INVALID_GUARD') return err
    throw err
  }
  throw new Error('expected a PCL_INVALID_GUARD error')
}

describe('compileAllowlist: startup errors name the route and the field', () => {
  it.each([
    [
      'an empty segment',
      { allow: ['id', 'a..b'] },
      'guard.response.allow[1]',
      /'a\.\.b' has an empty segment/,
    ],
    ["a '[' without ']'", { allow: ['a['] }, 'guard.response.allow[0]', /without '\]'/],
    ["'[]' followed by a key", { allow: ['[]x'] }, 'guard.response.allow[0]', /after '\[\]'/],
    ['a space', { allow: ['owner id'] }, 'guard.response.allow[0]', /whitespace/],
    ["'*' not last", { allow: ['stats.*.x'] }, 'guard.response.allow[0]', /'\*' before its end/],
    ['__proto__', { allow: ['__proto__.x'] }, 'guard.response.allow[0]', /never copied/],
    ['constructor', { allow: ['a.constructor'] }, 'guard.response.allow[0]', /never copied/],
    [
      'a bad byScope path',
      { allow: ['id'], byScope: { 'v:internal': ['ok', 'x..y'] } },
      'guard.response.byScope.v:internal[1]',
      /empty segment/,
    ],
    [
      'a bad byStatus path',
      { allow: ['id'], byStatus: { '404': ['a['] } },
      'guard.response.byStatus.404[0]',
      /without/,
    ],
    [
      'a bad status key',
      { allow: ['id'], byStatus: { '600': [] } },
      'guard.response.byStatus.600',
      /status code/,
    ],
    [
      'a status word',
      { allow: ['id'], byStatus: { ok: [] } },
      'guard.response.byStatus.ok',
      /status code/,
    ],
    [
      'a scope with a space',
      { allow: ['id'], byScope: { 'a b': ['x'] } },
      'guard.response.byScope.a b',
      /scope token/,
    ],
    [
      'an empty byScope list',
      { allow: ['id'], byScope: { s: [] } },
      'guard.response.byScope.s',
      /at least one path/,
    ],
    ['an unknown key', { allow: ['id'], moed: 'reject' }, 'guard.response.moed', /not a known key/],
    ['a bad mode', { allow: ['id'], mode: 'drop' }, 'guard.response.mode', /'strip' or 'reject'/],
    ['a missing allow', { mode: 'strip' }, 'guard.response.allow', /./],
    [
      'allow as a string',
      { allow: 'id' },
      'guard.response.allow',
      /list of field paths or a z\.object/,
    ],
    ['a zod string', { allow: z.string() }, 'guard.response.allow', /not a zod string/],
    [
      'a zod array',
      { allow: z.array(z.object({ id: z.string() })) },
      'guard.response.allow',
      /not a zod array/,
    ],
    ['an unknown string', 'everything', 'guard.response', /'schema'/],
    [
      'an empty passthrough reason',
      { passthrough: '  ' },
      'guard.response.passthrough',
      /non-empty reason/,
    ],
    ['maxItems 0', { allow: ['[]'], maxItems: 0 }, 'guard.response.maxItems', /./],
    ['a fractional maxItems', { allow: ['[]'], maxItems: 1.5 }, 'guard.response.maxItems', /./],
    [
      'a maxItems path that is not an array',
      { allow: ['a[]'], maxItems: { paths: { a: 1 } } },
      'guard.response.maxItems.paths.a',
      /must name an array/,
    ],
    [
      'a maxItems path with bad syntax',
      { allow: ['a[]'], maxItems: { paths: { 'a..b[]': 1 } } },
      'guard.response.maxItems.paths.a..b[]',
      /empty segment/,
    ],
  ])('refuses %s', (_name, spec, field, message) => {
    const err = configError(spec)
    expect(err.route).toBe(route)
    expect(err.field).toBe(field)
    expect(err.message.startsWith(`${route}: ${field}`)).toBe(true)
    expect(err.message).toMatch(message)
  })

  it('refuses a byScope for a scope the route never grants', () => {
    const err = configError(
      { allow: ['id'], byScope: { 'videos:internal': ['uploadIp'] } },
      { scopesGranted: new Set(['videos:read']) },
    )
    expect(err.field).toBe('guard.response.byScope.videos:internal')
    expect(err.message).toMatch(/never grants \(it grants videos:read\)/)
  })

  it('refuses a maxItems.byScope for a scope the route never grants', () => {
    const err = configError(
      { allow: ['[].id'], maxItems: { default: 10, byScope: { bulk: 100 } } },
      { scopesGranted: none },
    )
    expect(err.field).toBe('guard.response.maxItems.byScope.bulk')
  })

  it('accepts any byScope scope when the granted scopes are unknown', () => {
    expect(() => compileAllowlist({ allow: ['id'], byScope: { x: ['y'] } })).not.toThrow()
  })

  it('refuses a cap on an array the allowlist does not reach', () => {
    const err = configError({ allow: ['items[].id'], maxItems: { paths: { 'tags[]': 5 } } })
    expect(err.field).toBe('guard.response.maxItems.paths.tags[]')
    expect(err.message).toMatch(/does not reach \(it reaches items\[\]\)/)
  })

  it('refuses a maxItems number when the allowlist reaches no array', () => {
    expect(configError({ allow: ['id'], maxItems: 10 }).field).toBe('guard.response.maxItems')
  })

  it('refuses a scope cap that would add a cap where there is none', () => {
    expect(configError({ allow: ['[].id'], maxItems: { byScope: { bulk: 100 } } }).field).toBe(
      'guard.response.maxItems.byScope.bulk',
    )
    expect(
      configError({
        allow: ['[].id', 'tags[]'],
        maxItems: { paths: { '[]': 10 }, byScope: { bulk: { paths: { 'tags[]': 5 } } } },
      }).field,
    ).toBe('guard.response.maxItems.byScope.bulk.paths.tags[]')
  })

  it("refuses 'schema' on a route without a response schema", () => {
    const err = configError('schema')
    expect(err.field).toBe('guard.response')
    expect(err.message).toMatch(/declares no response schema/)
  })

  it("refuses 'schema' with a $ref it cannot follow, naming where", () => {
    const err = configError('schema', {
      schema: { 200: { type: 'object', properties: { owner: { $ref: 'user#' } } } },
    })
    expect(err.message).toMatch(/schema\.response\.200 at owner uses \$ref \('user#'\)/)
  })

  it("refuses 'schema' with only error schemas, or keys that are not statuses", () => {
    expect(configError('schema', { schema: { 404: { type: 'object' } } }).message).toMatch(
      /no success response schema/,
    )
    expect(configError('schema', { schema: { ok: { type: 'object' } } }).message).toMatch(
      /schema\.response\.ok is not a status code/,
    )
  })

  it("refuses a schema property named '__proto__'", () => {
    const properties = JSON.parse('{"__proto__": {"type": "string"}}') as unknown
    expect(
      configError('schema', { schema: { 200: { type: 'object', properties } } }).message,
    ).toMatch(/never copied/)
  })

  describe("an allowlist path the route's own response schema does not have", () => {
    const video = {
      type: 'object',
      properties: {
        id: { type: 'string' },
        title: { type: 'string' },
        owner: { type: 'object', properties: { id: { type: 'string' }, email: {} } },
        tags: { type: 'array', items: { type: 'string' } },
        stats: { type: 'object', additionalProperties: { type: 'number' } },
        extra: { type: 'object' },
        linked: { $ref: 'video#' },
      },
    }

    it('is refused, naming the route, the status schema and the path, with the closest path', () => {
      const err = configError({ allow: ['id', 'titel'] }, { schema: { 200: video } })
      expect(err.route).toBe(route)
      expect(err.field).toBe('guard.response.allow[1]')
      expect(err.message).toMatch(
        /^GET \/v1\/videos\/:id: guard\.response\.allow\[1\] 'titel' is not in the route's response schema \(schema\.response\.200\): did you mean 'title'\?\. Fastify serializes/,
      )
      expect(configError({ allow: ['owner.emial'] }, { schema: video }).message).toMatch(
        /'owner\.emial' is not in the route's response schema \(schema\.response\): did you mean 'owner\.email'\?/,
      )
    })

    it('names every such path at once, in allow, byScope and byStatus', () => {
      const err = configError(
        {
          allow: ['id', 'tags.name', 'title'],
          byScope: { 'videos:internal': ['uploadIp'] },
          byStatus: { '404': ['type', 'hint'] },
        },
        {
          schema: {
            200: video,
            404: { type: 'object', properties: { type: {}, title: {} } },
          },
        },
      )
      expect(err.field).toBe('guard.response.allow[1]')
      expect(err.message).toMatch(/allow\[1\] 'tags\.name' is not/)
      expect(err.message).toMatch(/byScope\.videos:internal\[0\] 'uploadIp' is not/)
      expect(err.message).toMatch(/byStatus\.404\[1\] 'hint' is not .*\(schema\.response\.404\)/)
    })

    it('admits what the schema can carry, and what it cannot read', () => {
      const allow = [
        'id',
        'owner',
        'owner.id',
        'tags[]',
        'stats.views',
        'stats.*',
        'extra.anything.below',
        'linked.id',
      ]
      expect(() => compileAllowlist({ allow }, { route, schema: { 200: video } })).not.toThrow()
      // Statuses without a schema of their own, and routes without a schema, are not checked.
      expect(() =>
        compileAllowlist(
          { allow: ['id'], byStatus: { '500': ['trace'] } },
          { route, schema: { 200: video } },
        ),
      ).not.toThrow()
      expect(() => compileAllowlist({ allow: ['titel'] }, { route })).not.toThrow()
      // A path in any of the success schemas will do.
      expect(() =>
        compileAllowlist(
          { allow: ['id', 'created'] },
          { route, schema: { 200: video, 201: { properties: { created: {} } } } },
        ),
      ).not.toThrow()
      expect(() =>
        compileAllowlist(
          { allow: ['id', 'titel'] },
          { route, schema: { 200: { ...video, additionalProperties: true } } },
        ),
      ).not.toThrow()
    })

    it('reads zod response schemas too', () => {
      const schema = z.object({ id: z.string(), items: z.array(z.object({ title: z.string() })) })
      expect(() =>
        compileAllowlist({ allow: ['id', 'items[].title'] }, { route, schema }),
      ).not.toThrow()
      expect(configError({ allow: ['items[].titel'] }, { schema }).message).toMatch(
        /'items\[\]\.titel' is not .*did you mean 'items\[\]\.title'\?/,
      )
      expect(() =>
        compileAllowlist({ allow: ['id', 'more'] }, { route, schema: schema.loose() }),
      ).not.toThrow()
    })
  })

  it('refuses a recursive zod schema', () => {
    interface Node {
      id: string
      children: Node[]
    }
    const node: z.ZodType<Node> = z.lazy(() =>
      z.object({ id: z.string(), children: z.array(node) }),
    )
    const err = configError({ allow: z.object({ root: node }) })
    expect(err.field).toBe('guard.response.allow')
    expect(err.message).toMatch(/nested deeper than 32 levels/)
  })

  it('names no route when none is given', () => {
    try {
      compileAllowlist({ allow: ['a..b'] })
      expect.unreachable()
    } catch (err) {
      expect(isPortcullisConfigError(err)).toBe(true)
      expect((err as PortcullisConfigError).message).toMatch(/^guard\.response\.allow\[0\] /)
      expect((err as PortcullisConfigError).route).toBeUndefined()
    }
  })
})

describe('compileAllowlist: summaries for the inventory', () => {
  it.each([
    [{ allow: ['id', 'title', 'owner.id'] }, '3 fields; strip'],
    [{ allow: ['id'] }, '1 field; strip'],
    [
      { allow: ['[].id', '[].title'], byScope: { internal: ['[].ip', '[].notes'] }, maxItems: 100 },
      '2 fields (+2 by scope); maxItems 100; strip',
    ],
    [
      {
        allow: ['items[].id'],
        byStatus: { '404': ['code'], '4xx': ['title'] },
        maxItems: { default: 50, paths: { 'items[]': 20 }, byScope: { bulk: 1000 } },
        mode: 'reject',
      },
      '1 field; byStatus 404, 4xx; maxItems 50, items[] 20, raised for bulk; reject',
    ],
    [{ passthrough: 'a video stream' }, 'passthrough: a video stream'],
  ])('%j', (spec, summary) => {
    const compiled = compileAllowlist(spec, { route })
    expect(compiled.summary).toBe(summary)
    expect(Object.isFrozen(compiled)).toBe(true)
  })

  it("summarizes 'schema' and zod allowlists by their derived fields", () => {
    const fromSchema = compileAllowlist('schema', {
      schema: {
        200: { type: 'object', properties: { id: { type: 'string' }, n: { type: 'number' } } },
      },
    })
    expect(fromSchema.summary).toBe('schema: 2 fields; byStatus 200; strip')
    expect(fromSchema.mode).toBe('strip')
    const fromZod = compileAllowlist({
      allow: z.object({ id: z.string(), owner: z.object({ id: z.string() }) }),
    })
    expect(fromZod.summary).toBe('2 fields; strip')
  })
})
