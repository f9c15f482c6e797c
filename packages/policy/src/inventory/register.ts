import { z } from 'zod'
import type { ParsedClaimMatcher } from '../guard/guard-schema.js'
import type { NormalizedGuard } from '../guard/normalized-guard.js'

/**
 * Field classes: a field path in the allowlist syntax (`'owner.email'`, `'items[].watchedAt'`)
 * or a bare field name (`'uploadIp'`, any field of that name at any depth), mapped to its class
 * (`'pii'`, `'internal'`, or any class name of the application's own).
 */
export type FieldClasses = Readonly<Record<string, string>>

// A key of `classify`: `[]` segments, keys and `.` as in the allowlist syntax, no `*`.
const CLASSIFY_KEY = /^(?:\[\])*(?:[^.[\]*\s]+(?:\[\])*)(?:\.[^.[\]*\s]+(?:\[\])*)*$/u
const CLASS_NAME = /^[A-Za-z][A-Za-z0-9_:-]{0,63}$/u

/** The zod schema of `classify` (plugin options and `guard.response.classify`). */
export const fieldClassesSchema = z.record(z.string(), z.string()).superRefine((record, ctx) => {
  for (const [key, value] of Object.entries(record)) {
    if (!CLASSIFY_KEY.test(key) || key.length > 512) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `'${key}' is not a field path ('owner.email', 'items[].watchedAt') nor a field name ('uploadIp')`,
      })
    } else if (!CLASS_NAME.test(value)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `must be a class name ('pii', 'internal'): a letter, then letters, digits, '_', '-' or ':' (at most 64)`,
      })
    }
  }
})

/**
 * What a route's response allowlist lets leave, as the allowlist step reports it: canonical
 * field paths per list, `maxItems` resolved, and the route's own `classify`.
 */
export type ResponseExposure =
  | {
      readonly kind: 'allowlist'
      readonly mode: 'strip' | 'reject'
      /** The fields of success responses (below 400) without a `byStatus` list. */
      readonly allow: readonly string[]
      /** Extra fields of success responses for holders of each scope. */
      readonly byScope: Readonly<Record<string, readonly string[]>>
      /** The fields per status code or class (`'404'`, `'2xx'`). */
      readonly byStatus: Readonly<Record<string, readonly string[]>>
      readonly maxItems: MaxItemsExposure | null
      /** `guard.response.classify`: the route's own field classes, over the application's. */
      readonly classify: FieldClasses
    }
  | { readonly kind: 'passthrough'; readonly reason: string }
  /** No allowlist (`requireResponse: false`): success bodies leave unchecked. */
  | { readonly kind: 'none' }

/** `maxItems`, resolved: caps by canonical array path (`'[]'`, `'items[]'`). */
export interface MaxItemsExposure {
  readonly default: number | null
  readonly paths: Readonly<Record<string, number>>
  readonly byScope: Readonly<
    Record<
      string,
      { readonly default: number | null; readonly paths: Readonly<Record<string, number>> }
    >
  >
}

/** A rate limit as the rate-limit step reports it. */
export type LimitExposure =
  | {
      readonly kind: 'limit'
      readonly max: number
      /** Milliseconds. */
      readonly timeWindow: number
      readonly key: string
      readonly bucket: string | null
      /** Higher (or lower) `max` for callers or scope holders. */
      readonly overrides: readonly {
        readonly callers: readonly string[] | null
        readonly scopes: readonly string[] | null
        readonly max: number
      }[]
    }
  | { readonly kind: 'exempt'; readonly reason: string }

/** Who may call a route: the effective guard after `extends` and prefix defaults. */
export interface RouteAccess {
  /** The reason when the route is public, else `null`. */
  readonly public: string | null
  /** Every one of these scopes is required. */
  readonly allOf: readonly string[]
  /** From each group, one scope is required. */
  readonly anyOf: readonly (readonly string[])[]
  /** The client ids allowed, or `null` for any caller. */
  readonly callers: readonly string[] | null
  /** Claim rules, as text (`tenant = :tenantId`). */
  readonly claims: Readonly<Record<string, string>>
  /** The names of the `check` functions. */
  readonly checks: readonly string[]
  /** Step-up (RFC 9470): the accepted `acr` values, or `null` when not required. */
  readonly acr: readonly string[] | null
  /** Step-up (RFC 9470): the largest `auth_time` age in seconds, or `null` when not required. */
  readonly maxAuthAge: number | null
  readonly reportOnly: boolean
}

/** One field that can leave, with its class (`null` when unclassified). */
export interface ExposedField {
  readonly path: string
  readonly class: string | null
  /** The wildcard allowlist path (`stats.*`) that lets a classified field leave, if any. */
  readonly via?: string
}

/** Which fields can leave for one status list and audience. */
export interface ExposureGroup {
  /** `'success'` (the `allow` list) or a `byStatus` key (`'404'`, `'2xx'`). */
  readonly status: string
  /** `null`: any caller of the route; else the holders of this scope (fields added for them). */
  readonly scope: string | null
  readonly fields: readonly ExposedField[]
}

/** What can leave a route: the register's response side. */
export interface RouteExposure {
  readonly kind: 'allowlist' | 'passthrough' | 'none' | 'unknown'
  readonly mode: 'strip' | 'reject' | null
  /** The passthrough reason, else `null`. */
  readonly reason: string | null
  readonly groups: readonly ExposureGroup[]
  /** Every class that can leave, sorted. */
  readonly classes: readonly string[]
  readonly maxItems: MaxItemsExposure | null
}

/** A route's limits: rate limit, and the budget and enumeration limits of its guard. */
export interface RouteLimits {
  readonly rateLimit: LimitExposure | null
  readonly budget: unknown
  readonly enumeration: unknown
}

function matcherText(matcher: ParsedClaimMatcher): string {
  if (typeof matcher !== 'object') return JSON.stringify(matcher)
  if ('oneOf' in matcher) return `in ${JSON.stringify(matcher.oneOf)}`
  if ('contains' in matcher) return `contains ${JSON.stringify(matcher.contains)}`
  const numeric = matcher.numeric === true ? ' (numeric)' : ''
  if ('param' in matcher) return `= :${matcher.param}${numeric}`
  return `= ?${matcher.query}${numeric}`
}

/**
 * A plain JSON copy of a guard setting read from outside this package (budget, enumeration):
 * functions become their names, so the register and the baseline stay comparable text.
 */
export function plainValue(value: unknown, depth = 0): unknown {
  if (value === undefined || value === null) return null
  if (typeof value === 'function') return `function ${value.name || 'anonymous'}`
  if (typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value
  if (depth > 6) return '...'
  if (Array.isArray(value)) return value.map((v) => plainValue(v, depth + 1))
  if (value instanceof Set) return [...(value as Set<unknown>)].map((v) => plainValue(v, depth + 1))
  if (value instanceof Map) {
    return plainValue(Object.fromEntries(value as Map<string, unknown>), depth)
  }
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key]
    if (v !== undefined) out[key] = plainValue(v, depth + 1)
  }
  return out
}

/** Who may call a route, from its effective guard. */
export function accessOf(guard: NormalizedGuard, reportOnly: boolean): RouteAccess {
  return Object.freeze({
    public: guard.public,
    allOf: [...guard.allOf].sort(),
    anyOf: guard.anyOf
      .map((group) => [...new Set(group)].sort())
      .sort((a, b) => (a.join(' ') < b.join(' ') ? -1 : 1)),
    callers: guard.callers === null ? null : [...guard.callers].sort(),
    claims: Object.fromEntries(
      Object.keys(guard.claims)
        .sort()
        .map((claim) => [claim, matcherText(guard.claims[claim]!)]),
    ),
    checks: guard.checks.map((fn) => fn.name || 'anonymous'),
    acr: guard.acr === null ? null : [...guard.acr].sort(),
    maxAuthAge: guard.maxAuthAge,
    reportOnly: guard.public === null && reportOnly,
  })
}

/** True when a route requires neither a scope nor a caller: any valid token may call it. */
export function requiresNoScopeOrCaller(access: RouteAccess): boolean {
  return access.allOf.length === 0 && access.anyOf.length === 0 && access.callers === null
}

function keyName(path: string): string | null {
  const segments = path.split('.')
  const last = segments[segments.length - 1]!.replace(/(?:\[\])+$/u, '')
  return last === '' || last === '*' ? null : last
}

/**
 * The class of a field path: a path key of `classify` (the path itself, or the path without a
 * leading `[].`, so that one key covers an object route and its list route), else a field-name
 * key matching the path's last key.
 */
export function classOf(path: string, classes: FieldClasses): string | null {
  if (Object.hasOwn(classes, path)) return classes[path]!
  if (path.startsWith('[].') && Object.hasOwn(classes, path.slice(3))) {
    return classes[path.slice(3)]!
  }
  const name = keyName(path)
  if (name !== null && !name.includes('.') && Object.hasOwn(classes, name)) return classes[name]!
  return null
}

// `stats.*` carries every scalar key of `stats`: which classified fields it can let out.
function throughWildcard(pattern: string, classes: FieldClasses): ExposedField[] {
  const prefix = pattern.slice(0, -1)
  const found: ExposedField[] = []
  for (const [key, cls] of Object.entries(classes)) {
    const isName = !key.includes('.') && !key.includes('[')
    const candidates = isName ? [`${prefix}${key}`] : [key, `[].${key}`]
    for (const candidate of candidates) {
      if (!candidate.startsWith(prefix)) continue
      const rest = candidate.slice(prefix.length)
      if (rest === '' || rest.includes('.') || rest.includes('[')) continue
      found.push({ path: candidate, class: cls, via: pattern })
      break
    }
  }
  return found
}

function fieldsOf(paths: readonly string[], classes: FieldClasses): ExposedField[] {
  const fields = new Map<string, ExposedField>()
  for (const path of paths) {
    if (path.endsWith('*')) {
      for (const field of throughWildcard(path, classes)) {
        if (!fields.has(field.path)) fields.set(field.path, field)
      }
    }
    fields.set(path, { path, class: classOf(path, classes) })
  }
  return [...fields.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function isSuccessKey(status: string): boolean {
  return status < '4'
}

/**
 * What can leave a route, per status list and audience, each field with its class: the
 * application's `classify` under the route's own. `null` exposure (no allowlist step reported)
 * is `unknown`.
 */
export function exposureOf(
  response: ResponseExposure | null,
  appClasses: FieldClasses,
): RouteExposure {
  if (response === null || response.kind !== 'allowlist') {
    return Object.freeze({
      kind: response === null ? 'unknown' : response.kind,
      mode: null,
      reason: response?.kind === 'passthrough' ? response.reason : null,
      groups: [],
      classes: [],
      maxItems: null,
    })
  }
  const classes = { ...appClasses, ...response.classify }
  const groups: ExposureGroup[] = []
  const scopes = Object.keys(response.byScope).sort()
  const lists: [string, readonly string[]][] = [
    ['success', response.allow],
    ...Object.keys(response.byStatus)
      .sort()
      .map((key): [string, readonly string[]] => [key, response.byStatus[key]!]),
  ]
  for (const [status, paths] of lists) {
    groups.push({ status, scope: null, fields: fieldsOf(paths, classes) })
    if (status !== 'success' && !isSuccessKey(status)) continue
    for (const scope of scopes) {
      groups.push({ status, scope, fields: fieldsOf(response.byScope[scope]!, classes) })
    }
  }
  const found = new Set<string>()
  for (const group of groups) {
    for (const field of group.fields) if (field.class !== null) found.add(field.class)
  }
  return Object.freeze({
    kind: 'allowlist',
    mode: response.mode,
    reason: null,
    groups,
    classes: [...found].sort(),
    maxItems: response.maxItems,
  })
}

/** A route's limits, from the rate-limit step and its guard's `budget` and `enumeration`. */
export function limitsOf(
  guard: NormalizedGuard | null,
  rateLimit: LimitExposure | null,
): RouteLimits {
  const extra = (guard ?? {}) as { budget?: unknown; enumeration?: unknown }
  return Object.freeze({
    rateLimit,
    budget: plainValue(extra.budget),
    enumeration: plainValue(extra.enumeration),
  })
}

/** Every scope some route requires (all-of and any-of alike), sorted: the scopes in use. */
export function scopesInUse(entries: readonly { readonly access: RouteAccess | null }[]): string[] {
  const scopes = new Set<string>()
  for (const { access } of entries) {
    if (access === null) continue
    for (const scope of access.allOf) scopes.add(scope)
    for (const group of access.anyOf) for (const scope of group) scopes.add(scope)
  }
  return [...scopes].sort()
}
