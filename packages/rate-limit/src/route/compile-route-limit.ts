import { PortcullisConfigError } from '@portcullis/core'
import type { LimitExposure } from '@portcullis/policy'
import { locateIssues } from '@portcullis/core/internal'
import type { z } from 'zod'
import type { LimitSpec } from '../limiter/limit-spec.js'
import { formatWindow } from '../lib/time-window.js'
import type { RateLimitKey } from '../options/rate-limit-options.js'
import { exemptSchema, routeLimitSchema } from './route-limit-schema.js'

/** What the plugin does with one route: count it, or leave it alone for a stated reason. */
export type RouteLimitPlan =
  | { readonly kind: 'exempt'; readonly reason: string; readonly summary: string }
  | {
      readonly kind: 'limit'
      readonly spec: LimitSpec
      /** Public routes count by IP whatever the key says. */
      readonly isPublic: boolean
      /** For the inventory: `100 per 1 minute by principal (bucket search)`. */
      readonly summary: string
    }

/** The route a limit is compiled for. */
export interface RouteSite {
  /** `METHOD /url`, as errors name the route. */
  readonly label: string
  readonly isPublic: boolean
}

const FIELD = 'guard.rateLimit'

function guardError(
  site: RouteSite,
  field: string,
  message: string,
  cause?: unknown,
): PortcullisConfigError {
  return new PortcullisConfigError('PCL_INVALID_GUARD', `${site.label}: ${field} ${message}`, {
    route: site.label,
    field,
    cause,
  })
}

/**
 * The configuration error of a route setting that failed its schema: the route and up to five
 * located issues (`guard.rateLimit.max must be a positive integer`), the first one's field.
 */
export function schemaError(
  site: Pick<RouteSite, 'label'>,
  error: z.ZodError,
  field = FIELD,
  unknown = 'is not a known rate-limit setting',
): PortcullisConfigError {
  const located = locateIssues(error.issues, field, unknown)
  const first = located[0] ?? { field, message: 'is invalid' }
  const message = located
    .slice(0, 5)
    .map((issue) => `${issue.field} ${issue.message}`)
    .join('; ')
  return new PortcullisConfigError('PCL_INVALID_GUARD', `${site.label}: ${message}`, {
    route: site.label,
    field: first.field,
    cause: error,
  })
}

/**
 * Validates a route's `guard.rateLimit` (after `extends` and prefix defaults) and resolves it
 * against the plugin's default limit, once, at registration. Throws `PCL_INVALID_GUARD` naming
 * the route and the field.
 */
export function compileRouteLimit(
  raw: unknown,
  site: RouteSite,
  defaults: LimitSpec,
): RouteLimitPlan {
  if (raw === undefined) {
    const spec = site.isPublic ? { ...defaults, key: 'ip' as const } : defaults
    return {
      kind: 'limit',
      spec,
      isPublic: site.isPublic,
      summary: summarizeLimit(spec, site.isPublic),
    }
  }
  if (raw === false || raw === null) {
    throw guardError(
      site,
      FIELD,
      `cannot be ${String(raw)}: exempt a route with { exempt: '<reason>' } (the reason shows in the route inventory)`,
    )
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw guardError(site, FIELD, "must be { max, timeWindow } or { exempt: '<reason>' }")
  }
  if ('exempt' in raw) {
    const parsed = exemptSchema.safeParse(raw)
    if (!parsed.success) throw schemaError(site, parsed.error)
    return { kind: 'exempt', reason: parsed.data.exempt, summary: `exempt: ${parsed.data.exempt}` }
  }
  const parsed = routeLimitSchema.safeParse(raw)
  if (!parsed.success) throw schemaError(site, parsed.error)
  const limit = parsed.data
  if (site.isPublic) {
    if (limit.key !== undefined && limit.key !== 'ip') {
      throw guardError(
        site,
        `${FIELD}.key`,
        "must be 'ip' or left out on a public route: it has no verified principal to count against",
      )
    }
    if (limit.overrides !== undefined) {
      throw guardError(
        site,
        `${FIELD}.overrides`,
        'cannot be used on a public route: overrides depend on the verified principal',
      )
    }
  }
  const spec: LimitSpec = Object.freeze({
    max: limit.max,
    timeWindow: limit.timeWindow,
    key: site.isPublic ? 'ip' : (limit.key ?? defaults.key),
    bucket: limit.bucket ?? null,
    overrides: Object.freeze(
      (limit.overrides ?? []).map((o) =>
        Object.freeze({
          callers: o.when.callers === undefined ? null : [...new Set(o.when.callers)],
          scopes: o.when.scopes === undefined ? null : [...new Set(o.when.scopes)],
          max: o.max,
        }),
      ),
    ),
  })
  return {
    kind: 'limit',
    spec,
    isPublic: site.isPublic,
    summary: summarizeLimit(spec, site.isPublic),
  }
}

/**
 * The inventory's rate-limit column: `100 per 1 minute by principal`, `60 per 1 minute by ip
 * (public)`, `20 per 1 second by principal (bucket search); 500 for callers indexer-svc`.
 */
export function summarizeLimit(spec: LimitSpec, isPublic: boolean): string {
  let text = `${spec.max} per ${formatWindow(spec.timeWindow)} by ${keyName(spec.key)}`
  const notes: string[] = []
  if (isPublic) notes.push('public')
  if (spec.bucket !== null) notes.push(`bucket ${spec.bucket}`)
  if (notes.length > 0) text += ` (${notes.join(', ')})`
  for (const o of spec.overrides) {
    const conditions: string[] = []
    if (o.callers !== null) conditions.push(`callers ${o.callers.join(', ')}`)
    if (o.scopes !== null) conditions.push(`scopes ${o.scopes.join(' ')}`)
    text += `; ${o.max} for ${conditions.join(' with ')}`
  }
  return text
}

const functionIds = new WeakMap<object, number>()
let nextFunctionId = 0

/**
 * What routes sharing a bucket must agree on: one bucket is one count, so one limit. Key
 * functions compare by identity.
 */
export function limitSignature(spec: LimitSpec): string {
  return JSON.stringify([spec.max, spec.timeWindow, keySignature(spec.key), spec.overrides])
}

/** A key as limits sharing a count compare it: its name, or the identity of its function. */
export function keySignature(key: RateLimitKey): string {
  if (typeof key !== 'function') return key
  let id = functionIds.get(key)
  if (id === undefined) {
    id = nextFunctionId++
    functionIds.set(key, id)
  }
  return `function#${id}`
}

/** How a key reads in the inventory: its name, or `key function <name>`. */
export function keyName(key: RateLimitKey): string {
  if (typeof key !== 'function') return key
  return key.name === '' ? 'key function' : `key function ${key.name}`
}

/** What the register records of a route's limit: numbers and names, no functions. */
export function limitExposure(plan: RouteLimitPlan): LimitExposure {
  if (plan.kind === 'exempt') return Object.freeze({ kind: 'exempt', reason: plan.reason })
  const { spec } = plan
  return Object.freeze({
    kind: 'limit',
    max: spec.max,
    timeWindow: spec.timeWindow,
    key: keyName(spec.key),
    bucket: spec.bucket,
    overrides: spec.overrides.map((o) => ({ callers: o.callers, scopes: o.scopes, max: o.max })),
  })
}
