import { isPortcullisError, ResponseError, type Principal } from '@portcullis/core'
import type { MaxItemsExposure, ResponseExposure } from '@portcullis/policy'
import {
  normalizeSpec,
  specError,
  type NormalizedCaps,
  type NormalizedSpec,
  type SpecSite,
} from './normalize-spec.js'
import { compileOwner } from './owner.js'
import type { NormalizedOwner } from './owner-spec.js'
import { formatPath, ITEMS, STAR, type FieldPath } from './path-syntax.js'
import { generateProjector, interpretedProjector, type Projector } from './generate-projector.js'
import { REMOVED, type Walk } from './project-value.js'
import { arrayPaths, compileTrie, countPaths, type CapFor, type ProjectionNode } from './trie.js'

/** Options of {@link compileAllowlist}: what it needs to know about the route. */
export interface CompileAllowlistOptions {
  /** `METHOD /url`, named in startup errors. */
  route?: string | undefined
  /**
   * The scopes the route's guard can grant, when known: a `byScope` (fields or caps) for any
   * other scope is a startup error, since no caller could ever see it.
   */
  scopesGranted?: ReadonlySet<string> | undefined
  /**
   * The route's response schema (Fastify `schema.response`): read by `response: 'schema'`, and
   * the paths of an allowlist must be in it (a path it cannot carry is a typo, refused).
   */
  schema?: unknown
}

/** What a projection needs to know about one response. */
export interface ProjectionContext {
  /** The response status: it picks the `byStatus` list (or `allow`, or problem+json fields). */
  readonly status: number
  /** The principal's scopes (empty for anonymous requests): they pick `byScope` fields and caps. */
  readonly scopes: ReadonlySet<string>
  /**
   * Report the paths stripped (in `removed`), for an audit event. Off by default: the strip
   * path then builds no path strings. Reject mode always computes them.
   */
  readonly collectRemoved?: boolean | undefined
  /**
   * The verified principal (`null` or absent for anonymous requests): `owner` compares returned
   * objects with it. Without one, no object belongs to the caller.
   */
  readonly principal?: Principal | null | undefined
}

/**
 * The outcome of a projection: the new body (never the input, which is not mutated) and the
 * field paths dropped, or the error to answer with. Never a partial body.
 */
export type ProjectionResult =
  | {
      readonly ok: true
      readonly value: unknown
      /**
       * Paths dropped (deduplicated, at most 20), filled in reject mode and when
       * `collectRemoved` is set; otherwise always empty.
       */
      readonly removed: readonly string[]
      /** How many objects `owner` dropped (strip mode); absent or 0 when none. */
      readonly notOwned?: number
    }
  | {
      readonly ok: false
      readonly error: ResponseError
      /**
       * The undeclared paths when reject mode refused the body (key names, never values;
       * deduplicated, at most 20), for the audit event; empty for any other refusal.
       */
      readonly removed: readonly string[]
      /** How many objects did not belong to the principal, when `owner` refused the body. */
      readonly notOwned?: number
    }

/** A route's response allowlist, compiled once. */
export interface CompiledAllowlist {
  /** A one-line summary for the route inventory: `'8 fields (+2 by scope); maxItems 100; strip'`. */
  readonly summary: string
  /** `'passthrough'` when success bodies are not inspected. */
  readonly mode: 'strip' | 'reject' | 'passthrough'
  /** What can leave, for the exposure register: canonical paths, caps and field classes. */
  readonly exposure: ResponseExposure
  /**
   * Projects a response body onto the allowlist of its status and the principal's scopes.
   * Returns an error result (never throws) for an array over `maxItems` (`PCL_TOO_MANY_ITEMS`),
   * undeclared fields in reject mode, a cycle, a BigInt, or a `toJSON`/getter that throws
   * (`PCL_RESPONSE_REJECTED`).
   */
  project(body: unknown, context: ProjectionContext): ProjectionResult
}

/** RFC 9457 §3.1 members plus Portcullis' `code`: what an error body may carry by default. */
const PROBLEM_FIELDS = ['type', 'title', 'status', 'code', 'detail', 'instance']
const PROBLEM_PATHS: readonly FieldPath[] = PROBLEM_FIELDS.map((field) => [field])

const NO_REMOVED: readonly string[] = Object.freeze([])
// Scope combinations are bit masks over the route's scoped entries.
const MAX_SCOPED = 30
// Compiled tries per status list and scope combination; oldest evicted first.
const MAX_CACHED = 64
const PREFIX = 'guard.response'

interface Variant {
  /** Below 400: `byScope` fields and reject mode apply. */
  readonly success: boolean
  readonly paths: readonly FieldPath[]
  /** The scoped entries (bits of the scope mask) that change this variant's trie. */
  readonly relevant: number
  /** The projection for principals holding none of the relevant scopes. */
  readonly base: Compiled
  readonly cache: Map<number, Compiled>
}

/** One trie, compiled twice: generated code for the strip path, the interpreter for audits. */
interface Compiled {
  readonly fast: Projector
  readonly audited: Projector
}

function compiled(root: ProjectionNode): Compiled {
  return { fast: generateProjector(root), audited: interpretedProjector(root) }
}

// One walk state is reused across projections; a projection started from inside another (a
// toJSON that projects) takes a fresh one, so nothing is shared mid-walk.
let idleWalk: Walk | null = null

function takeWalk(): Walk {
  const walk = idleWalk
  if (walk === null) return { audit: false, removed: new Set(), stack: [] }
  idleWalk = null
  return walk
}

function releaseWalk(walk: Walk): void {
  // Drop references to the response's objects so they can be collected.
  const stack = walk.stack
  for (let i = 0; i < stack.length; i++) stack[i] = undefined
  if (walk.removed.size > 0) walk.removed.clear()
  idleWalk = walk
}

function projectionFailure(err: unknown): ResponseError {
  if (isPortcullisError(err) && err.kind === 'response') return err as ResponseError
  return new ResponseError('PCL_RESPONSE_REJECTED', {
    message: 'A toJSON method, getter or proxy threw while the response was projected',
    cause: err,
  })
}

/**
 * Validates a route's `guard.response` and compiles it, once, into a projection: field paths
 * become tries of immutable nodes, caps are resolved per array, and `byScope`/`byStatus`
 * combinations are compiled on first use and cached. Throws a `PortcullisConfigError`
 * (`PCL_INVALID_GUARD`) naming the route and field for bad syntax, a scope the route never
 * grants, `'schema'` without a response schema, a path the route's response schema does not
 * have, a zod schema that is not an object, or a cap on an array the allowlist does not reach.
 *
 * @example
 * ```ts
 * const allowlist = compileAllowlist(
 *   { allow: ['id', 'title', 'owner.id', 'tags[]'], byScope: { 'videos:internal': ['uploadIp'] } },
 *   { route: 'GET /v1/videos/:id', scopesGranted: new Set(['videos:read', 'videos:internal']) },
 * )
 * const result = allowlist.project(row, { status: 200, scopes: principal.scopes })
 * if (result.ok) reply.send(result.value)
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/allowlist.md
 */
export function compileAllowlist(
  spec: unknown,
  options: CompileAllowlistOptions = {},
): CompiledAllowlist {
  const site: SpecSite = { route: options.route }
  const validated = normalizeSpec(spec, site, options.schema)
  if (validated.kind === 'passthrough') return compilePassthrough(validated.reason)
  return compileNormalized(validated.spec, site, options.scopesGranted)
}

function compilePassthrough(reason: string): CompiledAllowlist {
  const errors = compiled(compileTrie(PROBLEM_PATHS))
  return Object.freeze({
    summary: `passthrough: ${reason}`,
    mode: 'passthrough' as const,
    exposure: Object.freeze({ kind: 'passthrough' as const, reason }),
    project: function projectPassthrough(body: unknown, context: ProjectionContext) {
      if (context.status < 400) return { ok: true as const, value: body, removed: NO_REMOVED }
      return run(errors, body, false, context.collectRemoved === true)
    },
  })
}

function run(
  projection: Compiled,
  body: unknown,
  reject: boolean,
  collect: boolean,
): ProjectionResult {
  const walk = takeWalk()
  const audit = reject || collect
  walk.audit = audit
  try {
    let value = audit ? projection.audited(body, walk) : projection.fast(body, walk)
    if (value === REMOVED) {
      // A scalar body where the allowlist expects an object or array.
      value = null
      if (audit) walk.removed.add('(body)')
    }
    if (!audit || walk.removed.size === 0) return { ok: true, value, removed: NO_REMOVED }
    const removed = Object.freeze([...walk.removed])
    if (reject) {
      return {
        ok: false,
        error: new ResponseError('PCL_RESPONSE_REJECTED', {
          message: `The response carries fields its allowlist does not declare (mode 'reject'): ${removed.join(', ')}`,
        }),
        removed,
      }
    }
    return { ok: true, value, removed }
  } catch (err) {
    return { ok: false, error: projectionFailure(err), removed: NO_REMOVED }
  } finally {
    releaseWalk(walk)
  }
}

function checkScopes(
  spec: NormalizedSpec,
  site: SpecSite,
  granted: ReadonlySet<string> | undefined,
): void {
  if (granted === undefined) return
  const known = granted.size === 0 ? 'it grants no scope' : `it grants ${[...granted].join(', ')}`
  for (const scope of spec.byScope.keys()) {
    if (!granted.has(scope)) {
      throw specError(
        site,
        `${PREFIX}.byScope.${scope}`,
        `names a scope this route never grants (${known}): its fields could never be shown`,
      )
    }
  }
  for (const scope of spec.maxItems?.byScope.keys() ?? []) {
    if (!granted.has(scope)) {
      throw specError(
        site,
        `${PREFIX}.maxItems.byScope.${scope}`,
        `names a scope this route never grants (${known}): its caps could never apply`,
      )
    }
  }
}

function checkCaps(caps: NormalizedCaps, reachable: ReadonlySet<string>, site: SpecSite): void {
  const field = `${PREFIX}.maxItems`
  const list = reachable.size === 0 ? 'it reaches none' : `it reaches ${[...reachable].join(', ')}`
  if (caps.default !== undefined && reachable.size === 0) {
    throw specError(
      site,
      field,
      "caps arrays, but the allowlist reaches none: declare the array ('[].id', 'items[].id') or drop maxItems",
    )
  }
  for (const path of caps.paths.keys()) {
    if (!reachable.has(path)) {
      throw specError(
        site,
        `${field}.paths.${path}`,
        `names an array the allowlist does not reach (${list})`,
      )
    }
  }
  for (const [scope, scoped] of caps.byScope) {
    const at = `${field}.byScope.${scope}`
    if (scoped.default !== undefined && caps.default === undefined) {
      throw specError(
        site,
        at,
        'raises a default cap that is not declared: a scope can raise a cap, never add one (declare maxItems.default)',
      )
    }
    for (const path of scoped.paths.keys()) {
      if (!reachable.has(path)) {
        throw specError(
          site,
          `${at}.paths.${path}`,
          `names an array the allowlist does not reach (${list})`,
        )
      }
      if (!caps.paths.has(path) && caps.default === undefined) {
        throw specError(
          site,
          `${at}.paths.${path}`,
          `raises a cap that is not declared: a scope can raise a cap, never add one (declare maxItems.paths['${path}'])`,
        )
      }
    }
  }
}

/** The node a path leads to in a trie (`*` stands for any key), or `null`. */
function nodeAt(root: ProjectionNode, path: FieldPath): ProjectionNode | null {
  let node: ProjectionNode | null = root
  for (const segment of path) {
    if (node === null) return null
    if (segment === ITEMS) node = node.items
    else if (segment === STAR) return null
    else node = node.index.get(segment) ?? node.star
  }
  return node
}

/**
 * Refuses an owner rule whose objects no list keeps, or whose owner field some list drops while
 * keeping the objects (the field would be missing, and every object dropped): each list that
 * keeps the owned array (`allow`, each `byStatus` list, each `byScope` list) keeps the owner
 * field, or, for a `byScope` list, the lists it adds to do.
 */
function checkOwner(owner: NormalizedOwner, spec: NormalizedSpec, site: SpecSite): void {
  const arrayText = formatPath(owner.array)
  const fieldPath = [...owner.array, ...owner.field]
  const fieldText = formatPath(fieldPath)
  const reaches = (list: readonly FieldPath[]) => nodeAt(compileTrie(list), owner.array) !== null
  const keeps = (list: readonly FieldPath[]) =>
    owner.field.length === 0 || nodeAt(compileTrie(list), fieldPath)?.scalars === true
  const bases: [string, readonly FieldPath[], boolean][] = [
    [`${PREFIX}.allow`, spec.allow, true],
    ...[...spec.byStatus].map(
      ([key, list]) =>
        [`${PREFIX}.byStatus.${key}`, list, key < '4'] as [string, readonly FieldPath[], boolean],
    ),
  ]
  const scoped = [...spec.byScope].map(
    ([scope, list]) => [`${PREFIX}.byScope.${scope}`, list] as const,
  )
  const reached =
    bases.some(([, list]) => reaches(list)) || scoped.some(([, list]) => reaches(list))
  if (!reached) {
    throw specError(
      site,
      owner.at,
      `names '${arrayText}', an array the allowlist does not keep: declare its fields ('${fieldText}')`,
    )
  }
  const missing = (field: string) =>
    specError(
      site,
      field,
      `keeps '${arrayText}' but not the owner field '${fieldText}' (guard.response.owner): every object would be dropped; add '${fieldText}'`,
    )
  for (const [field, list, success] of bases) {
    if (reaches(list) && !keeps(list)) throw missing(field)
    if (!success) continue
    for (const [scopeField, scopedList] of scoped) {
      if (reaches(scopedList) && !keeps(scopedList) && !keeps(list)) throw missing(scopeField)
    }
  }
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

function summarize(spec: NormalizedSpec): string {
  const scoped = countPaths([...spec.byScope.values()].flat())
  let fields = plural(countPaths(spec.allow), 'field')
  if (spec.kind === 'schema') fields = `schema: ${fields}`
  if (scoped > 0) fields += ` (+${scoped} by scope)`
  const parts = [fields]
  if (spec.byStatus.size > 0) parts.push(`byStatus ${[...spec.byStatus.keys()].join(', ')}`)
  if (spec.maxItems !== null) parts.push(`maxItems ${spec.maxItems.display}`)
  if (spec.owner !== null) parts.push(ownerSummary(spec.owner))
  parts.push(spec.mode)
  return parts.join('; ')
}

function ownerSummary(owner: NormalizedOwner): string {
  const what =
    owner.claim === null
      ? `${formatPath(owner.array)} by check`
      : `${formatPath([...owner.array, ...owner.field])} = ${owner.claim}`
  return `owner ${what}${owner.mode === 'reject' ? ' (reject)' : ''}`
}

function notOwnedError(count: number): ResponseError {
  return new ResponseError('PCL_RESPONSE_REJECTED', {
    message: `The response carries ${plural(count, 'object')} that do not belong to the principal (guard.response.owner, mode 'reject')`,
  })
}

function texts(paths: readonly FieldPath[]): string[] {
  return [...new Set(paths.map(formatPath))].sort()
}

function capsExposure(caps: NormalizedCaps | null): MaxItemsExposure | null {
  if (caps === null) return null
  const paths = (map: ReadonlyMap<string, number>) =>
    Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : 1)))
  return {
    default: caps.default ?? null,
    paths: paths(caps.paths),
    byScope: Object.fromEntries(
      [...caps.byScope]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([scope, scoped]) => [
          scope,
          { default: scoped.default ?? null, paths: paths(scoped.paths) },
        ]),
    ),
  }
}

/** The register's view of an allowlist: canonical, sorted, so equal policies compare equal. */
function exposureOfSpec(spec: NormalizedSpec): ResponseExposure {
  const lists = (map: ReadonlyMap<string, readonly FieldPath[]>) =>
    Object.fromEntries(
      [...map].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, list]) => [key, texts(list)]),
    )
  return Object.freeze({
    kind: 'allowlist' as const,
    mode: spec.mode,
    allow: texts(spec.allow),
    byScope: lists(spec.byScope),
    byStatus: lists(spec.byStatus),
    maxItems: capsExposure(spec.maxItems),
    classify: spec.classify,
  })
}

function compileNormalized(
  spec: NormalizedSpec,
  site: SpecSite,
  granted: ReadonlySet<string> | undefined,
): CompiledAllowlist {
  checkScopes(spec, site, granted)
  if (spec.owner !== null) checkOwner(spec.owner, spec, site)
  const caps = spec.maxItems
  if (caps !== null) {
    const everything = [
      ...spec.allow,
      ...[...spec.byScope.values()].flat(),
      ...[...spec.byStatus.values()].flat(),
    ]
    checkCaps(caps, arrayPaths(compileTrie(everything)), site)
  }
  // The scopes that change a projection, one bit each.
  const scoped = [...new Set([...spec.byScope.keys(), ...(caps?.byScope.keys() ?? [])])]
  if (scoped.length > MAX_SCOPED) {
    throw specError(
      site,
      `${PREFIX}.byScope`,
      `names ${scoped.length} scopes; at most ${MAX_SCOPED} scopes may change a response`,
    )
  }
  const scopedFields = scoped.map((scope) => spec.byScope.get(scope) ?? [])
  const scopedCaps = scoped.map((scope) => caps?.byScope.get(scope))

  function capFor(mask: number): CapFor {
    if (caps === null) return () => Infinity
    return (path) => {
      let cap = caps.paths.get(path) ?? caps.default
      if (cap === undefined) return Infinity
      for (let bit = 0; bit < scoped.length; bit++) {
        if ((mask & (1 << bit)) === 0) continue
        const raised = scopedCaps[bit]?.paths.get(path) ?? scopedCaps[bit]?.default
        if (raised !== undefined && raised > cap) cap = raised
      }
      return cap
    }
  }

  function trieFor(paths: readonly FieldPath[], success: boolean, mask: number): Compiled {
    const all: FieldPath[] = [...paths]
    if (success) {
      for (let bit = 0; bit < scoped.length; bit++) {
        if ((mask & (1 << bit)) !== 0) all.push(...scopedFields[bit]!)
      }
    }
    return compiled(compileTrie(all, capFor(mask)))
  }

  function variant(paths: readonly FieldPath[], success: boolean): Variant {
    let relevant = 0
    for (let bit = 0; bit < scoped.length; bit++) {
      if ((success && scopedFields[bit]!.length > 0) || scopedCaps[bit] !== undefined) {
        relevant |= 1 << bit
      }
    }
    return { success, paths, relevant, base: trieFor(paths, success, 0), cache: new Map() }
  }

  const fallbackSuccess = variant(spec.allow, true)
  const fallbackError = variant(PROBLEM_PATHS, false)
  // Status → variant for 100..599: classes first, exact codes over them.
  const table: (Variant | undefined)[] = new Array<Variant | undefined>(600).fill(undefined)
  for (const [key, paths] of spec.byStatus) {
    if (!key.endsWith('xx')) continue
    const ofClass = variant(paths, key < '4')
    const base = Number(key[0]) * 100
    for (let status = base; status < base + 100; status++) table[status] = ofClass
  }
  for (const [key, paths] of spec.byStatus) {
    if (!key.endsWith('xx')) table[Number(key)] = variant(paths, key < '4')
  }

  function forScopes(chosen: Variant, scopes: ReadonlySet<string>): Compiled {
    let mask = 0
    for (let bit = 0; bit < scoped.length; bit++) {
      if ((chosen.relevant & (1 << bit)) !== 0 && scopes.has(scoped[bit]!)) mask |= 1 << bit
    }
    if (mask === 0) return chosen.base
    let projection = chosen.cache.get(mask)
    if (projection === undefined) {
      projection = trieFor(chosen.paths, chosen.success, mask)
      if (chosen.cache.size >= MAX_CACHED) {
        chosen.cache.delete(chosen.cache.keys().next().value!)
      }
      chosen.cache.set(mask, projection)
    }
    return projection
  }

  const reject = spec.mode === 'reject'
  const owner = spec.owner
  const filterOwned = owner === null ? null : compileOwner(owner)
  const refuseNotOwned = owner?.mode === 'reject'
  return Object.freeze({
    summary: summarize(spec),
    mode: spec.mode,
    exposure: exposureOfSpec(spec),
    project: function projectAllowlist(
      body: unknown,
      context: ProjectionContext,
    ): ProjectionResult {
      const status = context.status
      const chosen = table[status] ?? (status < 400 ? fallbackSuccess : fallbackError)
      const projection = chosen.relevant === 0 ? chosen.base : forScopes(chosen, context.scopes)
      const result = run(
        projection,
        body,
        reject && chosen.success,
        context.collectRemoved === true,
      )
      if (filterOwned === null || !result.ok) return result
      // On the projection's own copy, what leaves: no getter or toJSON of the handler's runs again.
      let notOwned: number
      try {
        notOwned = filterOwned(result.value, context.principal ?? null)
      } catch (err) {
        return { ok: false, error: projectionFailure(err), removed: NO_REMOVED }
      }
      if (notOwned === 0) return result
      if (refuseNotOwned) {
        return { ok: false, error: notOwnedError(notOwned), removed: NO_REMOVED, notOwned }
      }
      return { ...result, notOwned }
    },
  })
}
