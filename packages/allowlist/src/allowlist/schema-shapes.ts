import { FORBIDDEN_KEYS, formatPath, ITEMS, type FieldPath, type Segment } from './path-syntax.js'

/** Why a schema could not be read as an allowlist; `at` is where, in the schema. */
export class ShapeError extends Error {
  constructor(
    readonly at: string,
    message: string,
  ) {
    super(message)
    this.name = 'ShapeError'
  }
}

const MAX_DEPTH = 32
const MAX_PATHS = 10_000

interface ZodInternals {
  readonly _zod: { readonly def: { readonly type: string } }
}

type ZodDef = Readonly<Record<string, unknown>> & { readonly type: string }

/** True for a zod 4 schema (classic or mini), recognised by shape so any copy of zod works. */
export function isZodSchema(value: unknown): value is ZodInternals {
  if (typeof value !== 'object' || value === null || !('_zod' in value)) return false
  const internals: unknown = value._zod
  if (typeof internals !== 'object' || internals === null || !('def' in internals)) return false
  const def: unknown = internals.def
  return typeof def === 'object' && def !== null && 'type' in def && typeof def.type === 'string'
}

/** The zod type name of a schema (`object`, `string`, ...), for messages. */
export function zodTypeName(schema: ZodInternals): string {
  return schema._zod.def.type
}

class PathCollector {
  readonly paths: FieldPath[] = []

  add(path: Segment[], at: string): void {
    if (path.length === 0) return
    if (this.paths.length >= MAX_PATHS) {
      throw new ShapeError(at, `yields more than ${MAX_PATHS} paths; declare allow as paths`)
    }
    this.paths.push([...path])
  }
}

function checkDepth(path: readonly Segment[], at: string): void {
  if (path.length > MAX_DEPTH) {
    throw new ShapeError(
      at,
      `is nested deeper than ${MAX_DEPTH} levels (a recursive schema?); declare allow as paths`,
    )
  }
}

function checkKey(key: string, at: string): void {
  if (FORBIDDEN_KEYS.has(key)) {
    throw new ShapeError(at, `declares '${key}', a key that is never copied (prototype pollution)`)
  }
}

/**
 * The field paths of a zod schema's shape: object keys, nested objects, arrays of objects,
 * through optional/nullable/default/readonly/lazy/pipe wrappers and unions. Records, maps and
 * catch-alls declare no fields (a loose object's unknown keys are not an allowlist): declare
 * `path.*` to keep a map's scalars. The schema is only read, never used to parse responses.
 */
export function zodPaths(schema: ZodInternals, prefix: readonly Segment[] = []): FieldPath[] {
  const out = new PathCollector()
  walkZod(schema, [...prefix], out)
  return out.paths
}

function walkZod(schema: ZodInternals, path: Segment[], out: PathCollector): void {
  const at = formatPath(path) || '(the schema)'
  checkDepth(path, at)
  // Read by structure: the fields each zod 4 definition type carries (zod/v4/core).
  const def = schema._zod.def as ZodDef
  switch (def.type) {
    case 'object': {
      const shape = def['shape'] as Readonly<Record<string, unknown>>
      const keys = Object.keys(shape)
      if (keys.length === 0) out.add(path, at)
      for (const key of keys) {
        const child = shape[key]
        const childPath = [...path, key]
        checkKey(key, formatPath(childPath))
        if (isZodSchema(child)) walkZod(child, childPath, out)
        else out.add(childPath, at)
      }
      return
    }
    case 'array':
      walkInner(def['element'], [...path, ITEMS], out)
      return
    case 'tuple': {
      const items = (def['items'] as readonly unknown[] | undefined) ?? []
      for (const item of items) walkInner(item, [...path, ITEMS], out)
      if (def['rest'] !== undefined && def['rest'] !== null) {
        walkInner(def['rest'], [...path, ITEMS], out)
      }
      if (items.length === 0) out.add([...path, ITEMS], at)
      return
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
    case 'promise':
    case 'success':
      walkInner(def['innerType'], path, out)
      return
    case 'lazy': {
      const getter = def['getter']
      walkInner(typeof getter === 'function' ? (getter as () => unknown)() : undefined, path, out)
      return
    }
    case 'pipe': {
      // What leaves is the pipe's output; a transform's output has no readable shape, so its
      // input stands for it.
      const output = def['out']
      const readable = isZodSchema(output) && zodTypeName(output) !== 'transform'
      walkInner(readable ? output : def['in'], path, out)
      return
    }
    case 'union':
      for (const option of (def['options'] as readonly unknown[] | undefined) ?? []) {
        walkInner(option, path, out)
      }
      return
    case 'intersection':
      walkInner(def['left'], path, out)
      walkInner(def['right'], path, out)
      return
    default:
      // Scalars, enums, literals, records, maps, sets, any, unknown: the path ends here.
      out.add(path, at)
  }
}

function walkInner(inner: unknown, path: Segment[], out: PathCollector): void {
  if (isZodSchema(inner)) walkZod(inner, path, out)
  else out.add(path, formatPath(path))
}

/**
 * The field paths of a JSON schema (as in a Fastify response schema): `properties` of
 * objects, `items` of arrays, `anyOf`/`oneOf`/`allOf` branches, and zod schemas (type
 * providers) where one appears. `additionalProperties` and `patternProperties` declare no
 * fields, for the same reason as loose zod objects. `$ref` cannot be followed here and is an
 * error: declare `allow` instead.
 */
export function jsonSchemaPaths(schema: unknown, at: string): FieldPath[] {
  const out = new PathCollector()
  walkJsonSchema(schema, [], out, at, new Set())
  return out.paths
}

function walkJsonSchema(
  schema: unknown,
  path: Segment[],
  out: PathCollector,
  at: string,
  seen: Set<object>,
): void {
  const where = path.length === 0 ? at : `${at} at ${formatPath(path)}`
  checkDepth(path, where)
  if (isZodSchema(schema)) {
    walkZod(schema, path, out)
    return
  }
  if (schema === true || (typeof schema === 'object' && schema !== null && isEmpty(schema))) {
    out.add(path, where)
    return
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new ShapeError(where, 'is not a JSON schema (an object)')
  }
  if (seen.has(schema)) throw new ShapeError(where, 'is recursive; declare allow as paths')
  seen.add(schema)
  const s = schema as Readonly<Record<string, unknown>>
  if (typeof s['$ref'] === 'string') {
    throw new ShapeError(
      where,
      `uses $ref ('${s['$ref']}'), which response: 'schema' cannot follow; declare allow as paths`,
    )
  }
  const types =
    typeof s['type'] === 'string' ? [s['type']] : Array.isArray(s['type']) ? s['type'] : []
  const properties = s['properties']
  const items = s['items'] ?? s['prefixItems']
  const branches = [s['anyOf'], s['oneOf'], s['allOf']].filter(Array.isArray) as unknown[][]
  let declared = false
  if (typeof properties === 'object' && properties !== null) {
    declared = true
    const keys = Object.keys(properties)
    if (keys.length === 0) out.add(path, where)
    for (const key of keys) {
      const childPath = [...path, key]
      checkKey(key, `${at} at ${formatPath(childPath)}`)
      walkJsonSchema((properties as Record<string, unknown>)[key], childPath, out, at, seen)
    }
  } else if (types.includes('object')) {
    declared = true
    out.add(path, where)
  }
  if (items !== undefined) {
    declared = true
    const list = Array.isArray(items) ? items : [items]
    for (const item of list) walkJsonSchema(item, [...path, ITEMS], out, at, seen)
    if (list.length === 0) out.add([...path, ITEMS], where)
  } else if (types.includes('array')) {
    declared = true
    out.add([...path, ITEMS], where)
  }
  for (const branch of branches) {
    declared = true
    for (const option of branch) walkJsonSchema(option, path, out, at, seen)
  }
  const scalarTypes = types.filter((t) => t !== 'object' && t !== 'array' && t !== 'null')
  if (!declared || scalarTypes.length > 0) out.add(path, where)
  seen.delete(schema)
}

function isEmpty(schema: object): boolean {
  return Object.keys(schema).length === 0
}
