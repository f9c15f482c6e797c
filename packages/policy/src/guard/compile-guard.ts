import { locateIssues, PortcullisConfigError } from '@portcullis/core'
import type { z } from 'zod'
import { routeGuardSchema, type ParsedRouteGuard } from './guard-schema.js'

/** A route guard validated and compiled once, at registration. */
export interface CompiledGuard {
  /** The reason when the route is public, else `null`. */
  readonly public: string | null
  /** A one-line, human summary of what the route requires (for the inventory). */
  readonly summary: string
  /** The validated guard. */
  readonly guard: Readonly<ParsedRouteGuard>
}

/** Where a guard is declared, for error messages. */
export interface GuardSite {
  /** `METHOD /url`, as shown in errors and the inventory. */
  readonly route: string
}

/**
 * Validates a route guard and compiles it once. Throws a `PortcullisConfigError`
 * (`PCL_INVALID_GUARD`) naming the route and the field when the guard is invalid.
 *
 * @example
 * ```ts
 * const compiled = compileGuard({ public: 'liveness probe' }, { route: 'GET /healthz' })
 * compiled.public // 'liveness probe'
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/route-guards.md
 */
export function compileGuard(guard: unknown, site: GuardSite): CompiledGuard {
  const parsed = routeGuardSchema.safeParse(guard)
  if (!parsed.success) throw guardError(site, parsed.error)
  const value = parsed.data
  const requirements = Object.keys(value).filter((key) => key !== 'public')
  if (value.public !== undefined) {
    if (requirements.length > 0) {
      throw new PortcullisConfigError(
        'PCL_INVALID_GUARD',
        `${site.route}: guard.public cannot be combined with ${requirements.map((k) => `guard.${k}`).join(', ')}: a public route requires no token`,
        { route: site.route, field: 'guard.public' },
      )
    }
    return Object.freeze({ public: value.public, summary: `public: ${value.public}`, guard: value })
  }
  if (requirements.length === 0) {
    throw new PortcullisConfigError(
      'PCL_INVALID_GUARD',
      `${site.route}: guard is empty: declare what the route requires (e.g. { authenticated: true }) or { public: '<reason>' }`,
      { route: site.route, field: 'guard' },
    )
  }
  return Object.freeze({ public: null, summary: 'authenticated', guard: Object.freeze(value) })
}

function guardError(site: GuardSite, error: z.ZodError): PortcullisConfigError {
  const located = locateIssues(
    error.issues,
    'guard',
    'is not a known guard key (a misspelled requirement would be no requirement)',
  )
  const first = located[0] ?? { field: 'guard', message: 'is invalid' }
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
