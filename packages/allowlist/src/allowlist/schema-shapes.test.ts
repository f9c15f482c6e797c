import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { compileAllowlist } from './compile-allowlist.js'
import { formatPath, type FieldPath } from './path-syntax.js'
import { jsonSchemaPaths, ShapeError, zodPaths } from './schema-shapes.js'

function texts(paths: readonly FieldPath[]): string[] {
  return paths.map(formatPath).sort()
}

describe('zodPaths: the shape of a z.object() is the allowlist', () => {
  it('reads nested objects, arrays of objects and scalars, and wrappers', () => {
    const schema = z.object({
      id: z.string(),
      title: z.string().optional(),
      owner: z.object({ id: z.string(), name: z.string().nullable() }).nullable(),
      tags: z.array(z.string()).default([]),
      items: z.array(z.object({ title: z.string(), n: z.number().readonly() })).optional(),
      when: z.date().catch(new Date(0)),
      lazy: z.lazy(() => z.object({ deep: z.boolean() })),
      piped: z.string().transform((s) => s.length),
      status: z.enum(['a', 'b']),
      either: z.union([z.object({ a: z.string() }), z.object({ b: z.string() })]),
      both: z.intersection(z.object({ c: z.string() }), z.object({ d: z.string() })),
      pair: z.tuple([z.string(), z.object({ e: z.number() })]),
      map: z.record(z.string(), z.number()),
      empty: z.object({}),
    })
    expect(texts(zodPaths(schema))).toEqual(
      [
        'id',
        'title',
        'owner.id',
        'owner.name',
        'tags[]',
        'items[].title',
        'items[].n',
        'when',
        'lazy.deep',
        'piped',
        'status',
        'either.a',
        'either.b',
        'both.c',
        'both.d',
        'pair[]',
        'pair[].e',
        'map',
        'empty',
      ].sort(),
    )
  })

  it('ignores the catch-all of a loose object: unknown keys are not declared', () => {
    expect(texts(zodPaths(z.looseObject({ id: z.string() })))).toEqual(['id'])
    expect(texts(zodPaths(z.object({ id: z.string() }).catchall(z.string())))).toEqual(['id'])
  })

  it('is used as an allowlist without parsing responses', () => {
    const compiled = compileAllowlist({
      allow: z.object({ id: z.string(), owner: z.object({ id: z.string() }) }),
    })
    // id is a number here: zod would refuse it, the allowlist only keeps the declared paths.
    const result = compiled.project(
      { id: 42, owner: { id: 'u', email: 'e' }, secret: 1 },
      { status: 200, scopes: new Set() },
    )
    expect(result).toEqual({ ok: true, value: { id: 42, owner: { id: 'u' } }, removed: [] })
  })

  it('refuses __proto__ in a shape', () => {
    const schema = z.object({ ok: z.string() })
    Object.defineProperty(schema._zod.def.shape, '__proto__', {
      value: z.string(),
      enumerable: true,
    })
    expect(() => zodPaths(schema)).toThrow(ShapeError)
  })
})

describe('jsonSchemaPaths: Fastify response schemas', () => {
  it('reads properties, items, anyOf/oneOf/allOf, nullable types and zod members', () => {
    const schema = {
      type: 'object',
      properties: {
        id: { type: 'string' },
        owner: { type: ['object', 'null'], properties: { id: { type: 'integer' } } },
        tags: { type: 'array', items: { type: 'string' } },
        rows: { type: 'array', items: { type: 'object', properties: { a: {}, b: true } } },
        tuple: {
          type: 'array',
          items: [{ type: 'string' }, { type: 'object', properties: { c: {} } }],
        },
        choice: { anyOf: [{ type: 'object', properties: { x: {} } }, { type: 'string' }] },
        all: { allOf: [{ properties: { y: {} } }, { properties: { z: {} } }] },
        bag: { type: 'object', additionalProperties: { type: 'string' } },
        list: { type: 'array' },
        fromZod: z.object({ q: z.string() }),
      },
    }
    expect(texts(jsonSchemaPaths(schema, 'schema.response.200'))).toEqual(
      [
        'id',
        'owner.id',
        'tags[]',
        'rows[].a',
        'rows[].b',
        'tuple[]',
        'tuple[].c',
        'choice.x',
        'choice',
        'all.y',
        'all.z',
        'bag',
        'list[]',
        'fromZod.q',
      ].sort(),
    )
  })

  it('refuses $ref, recursion and non-schemas, naming where', () => {
    expect(() => jsonSchemaPaths({ properties: { a: { $ref: '#/x' } } }, 's')).toThrow(/uses \$ref/)
    const recursive: Record<string, unknown> = { type: 'object' }
    recursive['properties'] = { self: recursive }
    expect(() => jsonSchemaPaths(recursive, 's')).toThrow(/recursive/)
    expect(() => jsonSchemaPaths({ properties: { a: 5 } }, 's')).toThrow(/not a JSON schema/)
  })

  it("derives 'schema' from status keys, OpenAPI content, a bare schema, and zod", () => {
    const context = { status: 200, scopes: new Set<string>() }
    const body = { id: 1, name: 'n', secret: 's' }
    const keep = (schema: unknown) => {
      const result = compileAllowlist('schema', { schema }).project(body, context)
      return result.ok ? result.value : result.error
    }
    const idOnly = { type: 'object', properties: { id: { type: 'integer' } } }
    expect(keep({ 200: idOnly })).toEqual({ id: 1 })
    expect(keep({ '2XX': idOnly })).toEqual({ id: 1 })
    expect(keep({ default: idOnly })).toEqual({ id: 1 })
    expect(keep({ 200: { content: { 'application/json': { schema: idOnly } } } })).toEqual({
      id: 1,
    })
    expect(keep(idOnly)).toEqual({ id: 1 })
    expect(keep({ 200: z.object({ name: z.string() }) })).toEqual({ name: 'n' })
    expect(keep(z.object({ name: z.string() }))).toEqual({ name: 'n' })
    // Without 'default', a success status without its own schema uses every success schema.
    const union = compileAllowlist('schema', {
      schema: { 200: idOnly, 201: { type: 'object', properties: { name: {} } } },
    })
    expect(union.project(body, { ...context, status: 202 })).toMatchObject({
      value: { id: 1, name: 'n' },
    })
  })
})
