import { closestName } from '@portcullis/core/internal'
import { formatPath, ITEMS, STAR, type FieldPath } from './path-syntax.js'
import { isZodSchema, ShapeError, zodPaths, zodTypeName } from './schema-shapes.js'

// Whether a route's response schema (JSON schema as Fastify takes it, or zod through a type
// provider) can carry a value at an allowlist path. Fastify serializes with the schema, so a
// field it does not declare never leaves whatever the allowlist says: an allowlist path outside
// the schema is a typo (`titel`) that would silently drop the field. Anything this cannot read
// ($ref, an unknown construct) admits the path: the check refuses only what it can prove.

type ZodDef = Readonly<Record<string, unknown>> & { readonly type: string }

function zodAdmits(schema: unknown, path: FieldPath, at: number): boolean {
  if (at === path.length) return true
  if (!isZodSchema(schema)) return true
  const def = schema._zod.def as ZodDef
  const segment = path[at]!
  switch (def.type) {
    case 'object': {
      if (segment === ITEMS) return false
      const shape = def['shape'] as Readonly<Record<string, unknown>>
      // `.loose()` and `.catchall(x)` keep undeclared keys; `.strict()` is a catchall of never.
      const catchall = def['catchall']
      const extra = isZodSchema(catchall) && zodTypeName(catchall) !== 'never'
      if (segment === STAR) {
        return extra || Object.values(shape).some((child) => zodAdmits(child, path, at + 1))
      }
      if (Object.hasOwn(shape, segment)) return zodAdmits(shape[segment], path, at + 1)
      return extra && zodAdmits(catchall, path, at + 1)
    }
    case 'array':
      return segment === ITEMS && zodAdmits(def['element'], path, at + 1)
    case 'tuple': {
      if (segment !== ITEMS) return false
      const items = (def['items'] as readonly unknown[] | undefined) ?? []
      const rest = def['rest']
      return (
        items.some((item) => zodAdmits(item, path, at + 1)) ||
        (rest !== undefined && rest !== null && zodAdmits(rest, path, at + 1))
      )
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
      return zodAdmits(def['innerType'], path, at)
    case 'lazy': {
      const getter = def['getter']
      return typeof getter !== 'function' || zodAdmits((getter as () => unknown)(), path, at)
    }
    case 'pipe': {
      const output = def['out']
      const readable = isZodSchema(output) && zodTypeName(output) !== 'transform'
      return zodAdmits(readable ? output : def['in'], path, at)
    }
    case 'union':
      return ((def['options'] as readonly unknown[] | undefined) ?? []).some((option) =>
        zodAdmits(option, path, at),
      )
    case 'intersection':
      return zodAdmits(def['left'], path, at) || zodAdmits(def['right'], path, at)
    case 'record':
    case 'map':
      return segment !== ITEMS
    case 'set':
      return segment === ITEMS
    case 'any':
    case 'unknown':
    case 'custom':
    case 'transform':
      return true
    default:
      // Scalars, enums, literals: nothing lies below them.
      return false
  }
}

function jsonAdmits(schema: unknown, path: FieldPath, at: number, seen: Set<object>): boolean {
  if (at === path.length) return true
  if (isZodSchema(schema)) return zodAdmits(schema, path, at)
  if (schema === false) return false
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return true
  if (seen.has(schema)) return true
  const s = schema as Readonly<Record<string, unknown>>
  if (typeof s['$ref'] === 'string') return true
  seen.add(schema)
  try {
    const branches = [s['anyOf'], s['oneOf'], s['allOf']].filter(Array.isArray) as unknown[][]
    for (const branch of branches) {
      if (branch.some((option) => jsonAdmits(option, path, at, seen))) return true
    }
    const types =
      typeof s['type'] === 'string' ? [s['type']] : Array.isArray(s['type']) ? s['type'] : []
    const segment = path[at]!
    const items = s['items'] ?? s['prefixItems']
    if (segment === ITEMS) {
      if (items !== undefined) {
        const list = Array.isArray(items) ? items : [items]
        return list.length === 0 || list.some((item) => jsonAdmits(item, path, at + 1, seen))
      }
      return types.includes('array') || (types.length === 0 && branches.length === 0)
    }
    const properties = s['properties']
    const declared =
      typeof properties === 'object' && properties !== null
        ? (properties as Readonly<Record<string, unknown>>)
        : undefined
    const patterns = s['patternProperties']
    const additional = s['additionalProperties']
    const isObject =
      declared !== undefined ||
      types.includes('object') ||
      patterns !== undefined ||
      additional !== undefined
    if (!isObject) return types.length === 0 && branches.length === 0 && items === undefined
    const extra = additional === true || (typeof additional === 'object' && additional !== null)
    if (segment === STAR) {
      return (
        declared === undefined ||
        extra ||
        patterns !== undefined ||
        Object.values(declared).some((child) => jsonAdmits(child, path, at + 1, seen))
      )
    }
    if (declared !== undefined && Object.hasOwn(declared, segment)) {
      return jsonAdmits(declared[segment], path, at + 1, seen)
    }
    if (typeof patterns === 'object' && patterns !== null) {
      for (const [pattern, child] of Object.entries(patterns)) {
        let matches: boolean
        try {
          matches = new RegExp(pattern, 'u').test(segment)
        } catch {
          return true
        }
        if (matches) return jsonAdmits(child, path, at + 1, seen)
      }
    }
    if (extra) return jsonAdmits(additional === true ? true : additional, path, at + 1, seen)
    if (additional === false) return false
    // Without additionalProperties, Fastify's serializer writes the declared properties only; an
    // object that declares none is read as "any object".
    return declared === undefined
  } finally {
    seen.delete(schema)
  }
}

/** True when the schema can carry a value at `path` (or cannot be read well enough to say no). */
export function schemaAdmits(schema: unknown, path: FieldPath): boolean {
  return jsonAdmits(schema, path, 0, new Set())
}

/**
 * The paths a schema declares, and every prefix of them, for "did you mean" suggestions: what
 * it can read of the schema (a `$ref`, a recursive or too deep schema end the walk there).
 */
export function schemaPathNames(schema: unknown): string[] {
  const names = new Set<string>()
  if (isZodSchema(schema)) {
    try {
      for (const path of zodPaths(schema)) {
        for (let i = 1; i <= path.length; i++) names.add(formatPath(path.slice(0, i)))
      }
    } catch (err) {
      if (!(err instanceof ShapeError)) throw err
    }
    return [...names]
  }
  const walk = (node: unknown, prefix: FieldPath, seen: Set<object>): void => {
    if (isZodSchema(node)) {
      for (const name of schemaPathNames(node)) {
        names.add(formatPath(prefix) === '' ? name : `${formatPath(prefix)}.${name}`)
      }
      return
    }
    if (typeof node !== 'object' || node === null || seen.has(node) || prefix.length > 32) return
    seen.add(node)
    const s = node as Readonly<Record<string, unknown>>
    const properties = s['properties']
    if (typeof properties === 'object' && properties !== null) {
      for (const [key, child] of Object.entries(properties)) {
        const path: FieldPath = [...prefix, key]
        names.add(formatPath(path))
        walk(child, path, seen)
      }
    }
    const items = s['items'] ?? s['prefixItems']
    if (items !== undefined) {
      const path: FieldPath = [...prefix, ITEMS]
      names.add(formatPath(path))
      for (const item of Array.isArray(items) ? items : [items]) walk(item, path, seen)
    }
    for (const branch of [s['anyOf'], s['oneOf'], s['allOf']]) {
      if (Array.isArray(branch)) for (const option of branch) walk(option, prefix, seen)
    }
    seen.delete(node)
  }
  walk(schema, [], new Set())
  return [...names]
}

/** The declared path most like `path`, if one is close enough to be what was meant. */
export function closestSchemaPath(
  path: FieldPath,
  schemas: readonly unknown[],
): string | undefined {
  return closestName(
    formatPath(path),
    schemas.flatMap((schema) => schemaPathNames(schema)),
  )
}
