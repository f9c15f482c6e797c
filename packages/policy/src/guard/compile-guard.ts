import { PortcullisConfigError } from '@portcullis/core'
import { locateIssues } from '@portcullis/core/internal'
import type { z } from 'zod'
import { buildEvaluator, type Evaluate } from './evaluate-guard.js'
import { routeGuardSchema, unknownKeyHint, type ParsedRouteGuard } from './guard-schema.js'
import {
  hasRequirement,
  mergeGuards,
  normalizeGuard,
  type NormalizedGuard,
} from './normalized-guard.js'
import { summarizeGuard } from './summarize-guard.js'

/** Something valid but probably not meant in a guard, which the adapters log at startup. */
export interface GuardWarning {
  /** The field, e.g. `guard.claims.sub`. */
  readonly field: string
  /** What is wrong and what to write instead, naming the route. */
  readonly message: string
}

/** A route guard validated and compiled once, at registration. */
export interface CompiledGuard {
  /** The reason when the route is public, else `null`. */
  readonly public: string | null
  /** A one-line, human summary of what the route requires (for the inventory). */
  readonly summary: string
  /** True when denials are only reported (audit events) and the request is served anyway. */
  readonly reportOnly: boolean
  /** The effective guard, after `extends` and prefix defaults. */
  readonly guard: NormalizedGuard
  /** The compiled decision: `null` allows, an error denies. */
  readonly evaluate: Evaluate
  /**
   * What the guard says that it probably does not mean (a literal claim value that looks like a
   * route parameter), for the adapter to log at startup. Empty for most guards.
   */
  readonly warnings: readonly GuardWarning[]
}

/** Where a guard is declared and what it may build on. */
export interface GuardSite {
  /** `METHOD /url`, as shown in errors and the inventory. */
  readonly route: string
  /** The route's parameter names; a `{ param }` claim rule must name one of them. */
  readonly params?: readonly string[]
  /** Named policies a guard may `extends`. */
  readonly policies?: ReadonlyMap<string, NormalizedGuard>
  /** The guard defaults of the route's plugin prefix, which the guard may only tighten. */
  readonly defaults?: { readonly guard: NormalizedGuard; readonly label: string }
  /** The plugin-wide report-only default; a guard's own `reportOnly` overrides it. */
  readonly reportOnly?: boolean
  /** The application's scopes (`knownScopes` option): a guard naming another one fails. */
  readonly knownScopes?: ReadonlySet<string>
}

const REQUIREMENTS = [
  'authenticated',
  'scopes',
  'callers',
  'claims',
  'acr',
  'maxAuthAge',
  'check',
  'extends',
] as const

// `':userId'` (Express, Fastify) or `'{userId}'` (OpenAPI): how a route parameter is written in a
// path, which a claim rule may take for a reference to it. It is a literal.
const PARAM_LIKE = /^(?::([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})$/u

function claimWarnings(guard: NormalizedGuard, site: GuardSite): GuardWarning[] {
  const warnings: GuardWarning[] = []
  for (const [claim, matcher] of Object.entries(guard.claims)) {
    if (typeof matcher !== 'string') continue
    const match = PARAM_LIKE.exec(matcher)
    if (match === null) continue
    const param = match[1] ?? match[2]!
    const field = `guard.claims.${claim}`
    const missing =
      site.params !== undefined && !site.params.includes(param)
        ? ` (this route has no parameter :${param})`
        : ''
    warnings.push({
      field,
      message: `${site.route}: ${field} is the literal '${matcher}', which looks like a route parameter: the claim must equal that text. To compare it with the route parameter, write { param: '${param}' }${missing}`,
    })
  }
  return warnings
}

function configError(site: GuardSite, field: string, message: string): PortcullisConfigError {
  return new PortcullisConfigError('PCL_INVALID_GUARD', `${site.route}: ${field} ${message}`, {
    route: site.route,
    field,
  })
}

/**
 * Validates a guard (zod) without merging anything: the shape check shared by route guards,
 * prefix defaults and named policies. Throws `PCL_INVALID_GUARD` naming the route and field.
 */
export function parseGuard(guard: unknown, site: GuardSite, prefix = 'guard'): ParsedRouteGuard {
  const parsed = routeGuardSchema.safeParse(guard)
  if (!parsed.success) throw guardError(site, parsed.error, prefix)
  const value = parsed.data
  if (value.public !== undefined) {
    const combined = REQUIREMENTS.filter((key) => value[key] !== undefined)
    if (combined.length > 0) {
      throw configError(
        site,
        `${prefix}.public`,
        `cannot be combined with ${combined.map((k) => `${prefix}.${k}`).join(', ')}: a public route requires no token`,
      )
    }
  }
  return value
}

/**
 * Validates a route guard and compiles it once: `extends` and prefix defaults are merged (a
 * guard may tighten them, never loosen them), claim rules are checked against the route's
 * parameters, and the decision is built into a closure. Throws a `PortcullisConfigError`
 * (`PCL_INVALID_GUARD`) naming the route and the field when anything is wrong.
 *
 * @example
 * ```ts
 * const compiled = compileGuard(
 *   { scopes: ['videos:read'], claims: { tenant: { param: 'tenantId' } } },
 *   { route: 'GET /t/:tenantId/videos', params: ['tenantId'] },
 * )
 * compiled.summary // 'scopes: videos:read; claims: tenant = :tenantId'
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/route-guards.md
 */
export function compileGuard(guard: unknown, site: GuardSite): CompiledGuard {
  const value = parseGuard(guard, site)
  let effective = normalizeGuard(value)
  if (value.extends !== undefined) {
    const policy = site.policies?.get(value.extends)
    if (policy === undefined) {
      const known = [...(site.policies?.keys() ?? [])]
      throw configError(
        site,
        'guard.extends',
        `names no registered policy '${value.extends}' (${known.length === 0 ? 'no policies are registered' : `registered: ${known.join(', ')}`})`,
      )
    }
    effective = mergeGuards(policy, effective, {
      route: site.route,
      base: `policy '${value.extends}'`,
      prefix: 'guard',
    })
  }
  if (site.defaults !== undefined) {
    effective = mergeGuards(site.defaults.guard, effective, {
      route: site.route,
      base: site.defaults.label,
      prefix: 'guard',
    })
  }
  if (effective.public === null && !hasRequirement(effective)) {
    throw configError(
      site,
      'guard',
      "is empty: declare what the route requires (e.g. { authenticated: true }) or { public: '<reason>' }",
    )
  }
  if (site.knownScopes !== undefined) {
    const unknown = [...effective.allOf, ...effective.anyOf.flat()].filter(
      (scope) => !site.knownScopes!.has(scope),
    )
    if (unknown.length > 0) {
      throw configError(
        site,
        'guard.scopes',
        `names ${unknown.map((s) => `'${s}'`).join(', ')}, not among the knownScopes of the plugin options (a misspelled scope would lock everyone out)`,
      )
    }
  }
  if (site.params !== undefined) {
    for (const [claim, matcher] of Object.entries(effective.claims)) {
      if (
        typeof matcher === 'object' &&
        'param' in matcher &&
        !site.params.includes(matcher.param)
      ) {
        throw configError(
          site,
          `guard.claims.${claim}.param`,
          `names route parameter ':${matcher.param}', which this route does not have${site.params.length === 0 ? '' : ` (it has ${site.params.map((p) => `:${p}`).join(', ')})`}`,
        )
      }
    }
  }
  const reportOnly = effective.public === null && (effective.reportOnly ?? site.reportOnly ?? false)
  return Object.freeze({
    public: effective.public,
    summary: summarizeGuard(effective, reportOnly),
    reportOnly,
    guard: Object.freeze(effective),
    evaluate: buildEvaluator(effective),
    warnings: Object.freeze(claimWarnings(effective, site)),
  })
}

function guardError(site: GuardSite, error: z.ZodError, prefix: string): PortcullisConfigError {
  const located = locateIssues(error.issues, prefix, (key, path) => {
    const hint = unknownKeyHint(key, path)
    return `is not a known guard key (a misspelled requirement would be no requirement)${hint === '' ? '' : `: ${hint}`}`
  })
  const first = located[0] ?? { field: prefix, message: 'is invalid' }
  const message = located
    .slice(0, 5)
    .map((issue) => `${issue.field} ${issue.message}`)
    .join('; ')
  return new PortcullisConfigError('PCL_INVALID_GUARD', `${site.route}: ${message}`, {
    route: site.route,
    field: first.field,
    cause: error,
  })
}

/** The parameter names of a Fastify route URL (`/t/:tenantId/v/:id(^\\d+)` → tenantId, id). */
export function routeParams(url: string): string[] {
  const names = [...url.matchAll(/:([A-Za-z0-9_]+)/gu)].map((m) => m[1]!)
  if (url.includes('*')) names.push('*')
  return names
}
