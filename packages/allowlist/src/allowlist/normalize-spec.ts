import { PortcullisConfigError } from '@portcullis/core'
import { locateIssues } from '@portcullis/core/internal'
import type { z } from 'zod'
import { normalizeOwner, type NormalizedOwner } from './owner-spec.js'
import { formatPath, parsePath, type FieldPath } from './path-syntax.js'
import { responseSpecSchema, type AllowlistSpec, type MaxItemsSpec } from './response-spec.js'
import { closestSchemaPath, schemaAdmits } from './schema-check.js'
import { isZodSchema, jsonSchemaPaths, ShapeError, zodPaths } from './schema-shapes.js'

/** Where an allowlist is declared, for error messages. */
export interface SpecSite {
  readonly route: string | undefined
}

/** Caps resolved from `maxItems`, keyed by canonical array path (`'[]'`, `'items[]'`). */
export interface NormalizedCaps {
  readonly default: number | undefined
  readonly paths: ReadonlyMap<string, number>
  readonly byScope: ReadonlyMap<
    string,
    { readonly default: number | undefined; readonly paths: ReadonlyMap<string, number> }
  >
  /** For the summary: `100`, `100, items[] 50, raised by scope`. */
  readonly display: string
}

/** An allowlist spec validated and reduced to parsed paths, whatever form it was declared in. */
export interface NormalizedSpec {
  readonly kind: 'paths' | 'zod' | 'schema'
  readonly mode: 'strip' | 'reject'
  readonly allow: readonly FieldPath[]
  readonly byScope: ReadonlyMap<string, readonly FieldPath[]>
  /** By status key: `'404'` or `'4xx'`. */
  readonly byStatus: ReadonlyMap<string, readonly FieldPath[]>
  readonly maxItems: NormalizedCaps | null
  readonly owner: NormalizedOwner | null
  /** `classify`: field classes for the register. */
  readonly classify: Readonly<Record<string, string>>
}

/** A validated `guard.response`: an allowlist, or a passthrough reason. */
export type ValidatedSpec =
  | { readonly kind: 'allowlist'; readonly spec: NormalizedSpec }
  | { readonly kind: 'passthrough'; readonly reason: string }

const PREFIX = 'guard.response'

/** A `PCL_INVALID_GUARD` error naming the route (when known) and the field. */
export function specError(site: SpecSite, field: string, message: string): PortcullisConfigError {
  const text = `${field} ${message}`
  return new PortcullisConfigError(
    'PCL_INVALID_GUARD',
    site.route === undefined ? text : `${site.route}: ${text}`,
    site.route === undefined ? { field } : { route: site.route, field },
  )
}

/** The startup error of a guard field (`guard.response`, `guard.body`) its zod schema refused. */
export function zodSpecError(
  site: SpecSite,
  error: z.ZodError,
  prefix: string,
): PortcullisConfigError {
  const located = locateIssues(error.issues, prefix, `is not a known key of ${prefix}`)
  const first = located[0] ?? { field: prefix, message: 'is invalid' }
  const message = located
    .slice(0, 5)
    .map((issue) => `${issue.field} ${issue.message}`)
    .join('; ')
  return new PortcullisConfigError(
    'PCL_INVALID_GUARD',
    site.route === undefined ? message : `${site.route}: ${message}`,
    site.route === undefined
      ? { field: first.field, cause: error }
      : { route: site.route, field: first.field, cause: error },
  )
}

// Paths were checked by the zod schema; parsing again only turns them into segments.
function parsed(text: string): FieldPath {
  const result = parsePath(text)
  if (!result.ok) throw new TypeError(`unreachable: '${text}' ${result.reason}`)
  return result.path
}

function parsedList(list: readonly string[]): FieldPath[] {
  return list.map(parsed)
}

function canonicalArrayPath(text: string): string {
  return formatPath(parsed(text))
}

/**
 * Validates `guard.response` (shape, path syntax) and reduces it to parsed paths. `'schema'`
 * reads the route's response schema. Throws `PCL_INVALID_GUARD` naming the route and field.
 */
export function normalizeSpec(spec: unknown, site: SpecSite, schema: unknown): ValidatedSpec {
  const result = responseSpecSchema.safeParse(spec)
  if (!result.success) throw zodSpecError(site, result.error, PREFIX)
  const value = result.data
  if (value === 'schema') return { kind: 'allowlist', spec: fromResponseSchema(schema, site) }
  if ('passthrough' in value) return { kind: 'passthrough', reason: value.passthrough.trim() }
  const normalized = fromAllowlist(value, site)
  if (schema !== undefined && schema !== null) checkAgainstSchema(value, normalized, schema, site)
  return { kind: 'allowlist', spec: normalized }
}

/** One list of paths of an allowlist, and the response schemas its paths must be in. */
interface CheckedList {
  readonly field: string
  /** The paths as declared (`null` for a zod allowlist, whose paths have no index). */
  readonly texts: readonly string[] | null
  readonly paths: readonly FieldPath[]
  /** `schema.response.200` → its schema; empty when the route declares none for these statuses. */
  readonly schemas: ReadonlyMap<string, unknown>
}

// The response schemas a status key of byStatus is served with: its own, its class, or default.
function schemasForStatus(
  schemas: ReadonlyMap<string, { label: string; schema: unknown }>,
  key: string,
): Map<string, unknown> {
  const own = schemas.get(key) ?? schemas.get(`${key[0]}xx`) ?? schemas.get('default')
  return new Map<string, unknown>(own === undefined ? [] : [[own.label, own.schema]])
}

/**
 * Refuses an allowlist path that the route's own response schema does not have: Fastify
 * serializes with the schema, so the field would be dropped whatever the allowlist says (a
 * typo such as `titel` would start silently and never send the field). Every such path is
 * named, with the status's schema and the closest path it declares.
 */
function checkAgainstSchema(
  spec: AllowlistSpec,
  normalized: NormalizedSpec,
  schema: unknown,
  site: SpecSite,
): void {
  let schemas: Map<string, { label: string; schema: unknown }>
  try {
    schemas = responseSchemas(schema)
  } catch (err) {
    // A response schema this cannot read is Fastify's to refuse; `'schema'` reports it.
    if (err instanceof ShapeError) return
    throw err
  }
  const success = new Map(
    [...schemas]
      .filter(([key]) => key === 'default' || isSuccessKey(key))
      .map(([, { label, schema: s }]) => [label, s] as const),
  )
  const lists: CheckedList[] = [
    {
      field: `${PREFIX}.allow`,
      texts: isZodSchema(spec.allow) ? null : spec.allow,
      paths: normalized.allow,
      schemas: success,
    },
    ...Object.entries(spec.byScope ?? {}).map(([scope, texts]) => ({
      field: `${PREFIX}.byScope.${scope}`,
      texts,
      paths: normalized.byScope.get(scope) ?? [],
      schemas: success,
    })),
    ...Object.entries(spec.byStatus ?? {}).map(([key, texts]) => ({
      field: `${PREFIX}.byStatus.${key}`,
      texts,
      paths: normalized.byStatus.get(key) ?? [],
      schemas: schemasForStatus(schemas, key.toLowerCase()),
    })),
  ]
  const problems: { field: string; message: string }[] = []
  for (const list of lists) {
    if (list.schemas.size === 0) continue
    const declared = [...list.schemas.values()]
    list.paths.forEach((path, i) => {
      if (declared.some((s) => schemaAdmits(s, path))) return
      const field = list.texts === null ? list.field : `${list.field}[${i}]`
      const near = closestSchemaPath(path, declared)
      problems.push({
        field,
        message: `'${formatPath(path)}' is not in the route's response schema (${[...list.schemas.keys()].join(', ')})${near === undefined ? '' : `: did you mean '${near}'?`}`,
      })
    })
  }
  const first = problems[0]
  if (first === undefined) return
  throw specError(
    site,
    first.field,
    `${first.message}${problems
      .slice(1)
      .map((p) => `; ${p.field} ${p.message}`)
      .join(
        '',
      )}. Fastify serializes responses with that schema, so the field could never be sent: fix the path, or declare the field in the schema`,
  )
}

function fromAllowlist(spec: AllowlistSpec, site: SpecSite): NormalizedSpec {
  let allow: readonly FieldPath[]
  let kind: NormalizedSpec['kind'] = 'paths'
  if (isZodSchema(spec.allow)) {
    kind = 'zod'
    try {
      allow = zodPaths(spec.allow)
    } catch (err) {
      if (err instanceof ShapeError)
        throw specError(site, `${PREFIX}.allow`, `${err.at} ${err.message}`)
      throw err
    }
  } else {
    allow = parsedList(spec.allow)
  }
  const byScope = new Map(
    Object.entries(spec.byScope ?? {}).map(([scope, list]) => [scope, parsedList(list)] as const),
  )
  const byStatus = new Map(
    Object.entries(spec.byStatus ?? {}).map(
      ([status, list]) => [status, parsedList(list)] as const,
    ),
  )
  return {
    kind,
    mode: spec.mode ?? 'strip',
    allow,
    byScope,
    byStatus,
    maxItems: spec.maxItems === undefined ? null : normalizeCaps(spec.maxItems),
    owner: ownerOf(spec, site),
    classify: Object.freeze({ ...spec.classify }),
  }
}

function ownerOf(spec: AllowlistSpec, site: SpecSite): NormalizedOwner | null {
  if (spec.owner === undefined) return null
  const owner = normalizeOwner(spec.owner, `${PREFIX}.owner`)
  if ('message' in owner) throw specError(site, owner.field, owner.message)
  return owner
}

function capsMap(paths: Readonly<Record<string, number>> | undefined): Map<string, number> {
  return new Map(
    Object.entries(paths ?? {}).map(([path, cap]) => [canonicalArrayPath(path), cap] as const),
  )
}

function normalizeCaps(spec: number | MaxItemsSpec): NormalizedCaps {
  if (typeof spec === 'number') {
    return { default: spec, paths: new Map(), byScope: new Map(), display: String(spec) }
  }
  const paths = capsMap(spec.paths)
  const byScope = new Map(
    Object.entries(spec.byScope ?? {}).map(([scope, caps]) => {
      const entry =
        typeof caps === 'number'
          ? { default: caps, paths: new Map<string, number>() }
          : { default: caps.default, paths: capsMap(caps.paths) }
      return [scope, entry] as const
    }),
  )
  const parts: string[] = []
  if (spec.default !== undefined) parts.push(String(spec.default))
  for (const [path, cap] of paths) parts.push(`${path} ${cap}`)
  if (byScope.size > 0) parts.push(`raised for ${[...byScope.keys()].join(', ')}`)
  return { default: spec.default, paths, byScope, display: parts.join(', ') }
}

const STATUS_KEY = /^(?:[1-5][0-9][0-9]|[1-5]xx)$/u

function isSuccessKey(key: string): boolean {
  return key.charCodeAt(0) < '4'.charCodeAt(0)
}

// Fastify's OpenAPI-style form: { 200: { content: { 'application/json': { schema } } } }.
function unwrapContent(value: unknown, at: string): unknown {
  if (typeof value !== 'object' || value === null || isZodSchema(value)) return value
  const content = (value as { content?: unknown }).content
  if (typeof content !== 'object' || content === null) return value
  const entries = Object.entries(content)
  const json = entries.find(([type]) => /^application\/(?:[\w.+-]+\+)?json\b/iu.test(type))
  const schema = (json?.[1] as { schema?: unknown } | undefined)?.schema
  if (schema === undefined) {
    throw new ShapeError(at, 'has content types but no JSON one with a schema')
  }
  return schema
}

/**
 * The route's response schemas by lower-case status key (`'200'`, `'2xx'`, `'default'`), each
 * with the label errors name it by (`schema.response.200`) and its JSON schema (OpenAPI
 * `content` unwrapped). A bare schema stands for every success response (`'default'`).
 */
function responseSchemas(schema: unknown): Map<string, { label: string; schema: unknown }> {
  const bare =
    isZodSchema(schema) ||
    (typeof schema === 'object' &&
      schema !== null &&
      ('type' in schema || 'properties' in schema) &&
      !Object.keys(schema).some((key) => STATUS_KEY.test(key.toLowerCase())))
  if (bare) return new Map([['default', { label: 'schema.response', schema }]])
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new ShapeError('schema.response', 'must map status codes to schemas')
  }
  const out = new Map<string, { label: string; schema: unknown }>()
  for (const [rawKey, value] of Object.entries(schema)) {
    const key = rawKey.toLowerCase()
    const at = `schema.response.${rawKey}`
    if (key !== 'default' && !STATUS_KEY.test(key)) {
      throw new ShapeError(at, "is not a status code, a class ('2xx') or 'default'")
    }
    out.set(key, { label: at, schema: unwrapContent(value, at) })
  }
  return out
}

function fromResponseSchema(schema: unknown, site: SpecSite): NormalizedSpec {
  if (schema === undefined || schema === null) {
    throw specError(
      site,
      PREFIX,
      "is 'schema', but the route declares no response schema (schema.response): declare one, or list the fields with { allow: [...] }",
    )
  }
  try {
    let fallback: FieldPath[] | null = null
    const success: FieldPath[] = []
    const byStatus = new Map<string, FieldPath[]>()
    for (const [key, { label, schema: value }] of responseSchemas(schema)) {
      const paths = jsonSchemaPaths(value, label)
      if (key === 'default') {
        fallback = paths
        continue
      }
      byStatus.set(key, paths)
      if (isSuccessKey(key)) success.push(...paths)
    }
    if (fallback === null && success.length === 0 && ![...byStatus.keys()].some(isSuccessKey)) {
      throw new ShapeError(
        'schema.response',
        "declares no success response schema (200, 2xx or 'default')",
      )
    }
    return {
      kind: 'schema',
      mode: 'strip',
      allow: fallback ?? success,
      byScope: new Map(),
      byStatus,
      maxItems: null,
      owner: null,
      classify: {},
    }
  } catch (err) {
    if (err instanceof ShapeError) {
      throw specError(site, PREFIX, `is 'schema', but ${err.at} ${err.message}`)
    }
    throw err
  }
}
