import { PortcullisConfigError } from '@portcullis/core'
import { formatWindow } from '../lib/time-window.js'
import type { RateLimitKey } from '../options/rate-limit-options.js'
import { keyName, keySignature, schemaError } from '../route/compile-route-limit.js'
import { budgetSchema, enumerationSchema } from './egress-schema.js'

/** `guard.budget`, validated and resolved. */
export interface BudgetSpec {
  /** The shared budget's name, or `null` for the route's own. */
  readonly name: string | null
  readonly unit: 'items' | 'bytes'
  readonly max: number
  readonly timeWindow: number
  readonly key: RateLimitKey
  /** `[scope, max]` pairs: the largest `max` among the principal's scopes (and `max`) applies. */
  readonly byScope: readonly (readonly [string, number])[]
  readonly overdraw: 'serve' | 'refuse'
  /** The property path of the counted array (`[]` for a top-level array), or `null`. */
  readonly path: readonly string[] | null
}

/** `guard.enumeration`, validated and resolved. */
export interface EnumerationSpec {
  readonly source: 'param' | 'query'
  /** The parameter's name. */
  readonly name: string
  readonly maxDistinct: number
  readonly timeWindow: number
  readonly key: RateLimitKey
}

/** A route's egress limits, planned once, and their inventory summaries. */
export interface EgressPlan {
  readonly budget: BudgetSpec | null
  readonly enumeration: EnumerationSpec | null
  /** `1000 items per 1 hour by principal (budget viewing-history)`, or `null`. */
  readonly budgetSummary: string | null
  /** `200 distinct :id per 1 hour by principal`, or `null`. */
  readonly enumerationSummary: string | null
}

/** What {@link planEgress} reads of a route beside its guard. */
export interface EgressSite {
  /** `METHOD /url`, as errors name the route. */
  readonly label: string
  readonly isPublic: boolean
  /** The route's default key (the `rateLimit` option's `key`). */
  readonly defaultKey: RateLimitKey
}

/** What a route declares that egress limits read: its guard's parts. */
export interface EgressGuard {
  readonly budget: unknown
  readonly enumeration: unknown
  readonly response: unknown
}

function guardError(label: string, field: string, message: string): PortcullisConfigError {
  return new PortcullisConfigError('PCL_INVALID_GUARD', `${label}: ${field} ${message}`, {
    route: label,
    field,
  })
}

function keyFor(site: EgressSite, field: string, key: RateLimitKey | undefined): RateLimitKey {
  if (!site.isPublic) return key ?? site.defaultKey
  if (key !== undefined && key !== 'ip') {
    throw guardError(site.label, `${field}.key`, "must be 'ip' or left out on a public route")
  }
  return 'ip'
}

/** True when a `guard.response` lets bodies out unprojected (or is missing). */
function unprojected(response: unknown): boolean {
  return (
    response === undefined ||
    (typeof response === 'object' && response !== null && 'passthrough' in response)
  )
}

/**
 * Validates a route's `guard.budget` and `guard.enumeration` once, at registration. Throws
 * `PCL_INVALID_GUARD` naming the route and the field.
 */
export function planEgress(guard: EgressGuard, site: EgressSite): EgressPlan {
  let budget: BudgetSpec | null = null
  let enumeration: EnumerationSpec | null = null
  if (guard.budget !== undefined) {
    const parsed = budgetSchema.safeParse(guard.budget)
    if (!parsed.success)
      throw schemaError(site, parsed.error, 'guard.budget', 'is not a known setting')
    const b = parsed.data
    if (unprojected(guard.response)) {
      throw guardError(
        site.label,
        'guard.budget',
        "counts what the response allowlist lets out: declare guard.response ({ allow: [...] } or 'schema'), not a passthrough",
      )
    }
    if (b.path !== undefined && b.unit === 'bytes') {
      throw guardError(site.label, 'guard.budget.path', "applies to unit 'items' only")
    }
    const path =
      b.path === undefined ? null : b.path === '[]' ? [] : b.path.replace(/\[\]$/u, '').split('.')
    budget = Object.freeze({
      name: b.name ?? null,
      unit: b.unit,
      max: b.max,
      timeWindow: b.timeWindow,
      key: keyFor(site, 'guard.budget', b.key),
      byScope: Object.freeze(Object.entries(b.byScope ?? {})),
      overdraw: b.overdraw ?? 'serve',
      path,
    })
  }
  if (guard.enumeration !== undefined) {
    const parsed = enumerationSchema.safeParse(guard.enumeration)
    if (!parsed.success)
      throw schemaError(site, parsed.error, 'guard.enumeration', 'is not a known setting')
    const e = parsed.data
    enumeration = Object.freeze({
      source: e.param === undefined ? ('query' as const) : ('param' as const),
      name: (e.param ?? e.query)!,
      maxDistinct: e.maxDistinct,
      timeWindow: e.timeWindow,
      key: keyFor(site, 'guard.enumeration', e.key),
    })
  }
  return Object.freeze({
    budget,
    enumeration,
    budgetSummary: budget === null ? null : summarizeBudget(budget),
    enumerationSummary: enumeration === null ? null : summarizeEnumeration(enumeration),
  })
}

/** The inventory's budget column: `1000 items per 1 hour by principal (budget history)`. */
export function summarizeBudget(b: BudgetSpec): string {
  let text = `${b.max} ${b.unit} per ${formatWindow(b.timeWindow)} by ${keyName(b.key)}`
  const notes: string[] = []
  if (b.name !== null) notes.push(`budget ${b.name}`)
  if (b.path !== null) notes.push(`counts ${b.path.join('.')}[]`)
  if (b.overdraw === 'refuse') notes.push('overdraw refused')
  if (notes.length > 0) text += ` (${notes.join(', ')})`
  for (const [scope, max] of b.byScope) text += `; ${max} with ${scope}`
  return text
}

/** The inventory's enumeration column: `200 distinct :id per 1 hour by principal`. */
export function summarizeEnumeration(e: EnumerationSpec): string {
  const what = e.source === 'param' ? `:${e.name}` : `?${e.name}`
  return `${e.maxDistinct} distinct ${what} per ${formatWindow(e.timeWindow)} by ${keyName(e.key)}`
}

/** What routes sharing a named budget must agree on: one balance, one limit. */
export function budgetSignature(b: BudgetSpec): string {
  return JSON.stringify([b.unit, b.max, b.timeWindow, keySignature(b.key), b.byScope])
}

/**
 * The named budgets of one app: one name is one balance, so one limit. Returns the error for a
 * route that declares a name with another limit than the route that declared it first.
 */
export function createBudgetNames(): (
  label: string,
  plan: EgressPlan,
) => PortcullisConfigError | null {
  const names = new Map<string, { readonly signature: string; readonly label: string }>()
  return function checkName(label, plan) {
    const budget = plan.budget
    if (budget === null || budget.name === null) return null
    const signature = budgetSignature(budget)
    const first = names.get(budget.name)
    if (first === undefined) {
      names.set(budget.name, { signature, label })
      return null
    }
    if (first.signature === signature) return null
    return guardError(
      label,
      'guard.budget.name',
      `'${budget.name}' is declared with another limit by ${first.label}: routes sharing a budget must declare the same unit, max, timeWindow, key and byScope`,
    )
  }
}
