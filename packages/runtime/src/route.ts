import {
  bodySummary,
  createBodyRules,
  createResponseRules,
  planBody,
  planResponse,
  type BodyRules,
  type ResponseRules,
} from '@portcullis/allowlist/internal'
import { isPortcullisConfigError, PortcullisConfigError, type CodeOfKind } from '@portcullis/core'
import type { RouteSteps } from '@portcullis/core/internal'
import type { CompiledGuard, InventoryEntry } from '@portcullis/policy'
import { compileGuard, createRouteDecision, inventoryEntries } from '@portcullis/policy/internal'
import { limitExposure, type AppLimits } from '@portcullis/rate-limit/internal'
import type { GuardRuntime } from './runtime.js'

/** Where an adapter found a guard: a route (for some methods) or a middleware mount (`USE`). */
export interface BindSite {
  /** `GET,HEAD /v1/videos/:id` or `USE /assets`: how errors and logs name it. */
  readonly label: string
  /** The path template: `/v1/videos/:id`. */
  readonly template: string
  /** `GET`, `HEAD`, `ALL`..., or `USE` for a middleware mount. */
  readonly methods: readonly string[]
  /** Route parameters a `{ param }` claim rule may name. */
  readonly params: readonly string[]
}

/** What a route accepts as credentials, from its guard. */
export interface CredentialRules {
  /** `guard.queryToken: true`: one `?access_token=` is accepted. */
  readonly queryToken: boolean
  /** `guard.dpop: true`: only DPoP-bound tokens with a valid proof (RFC 9449). */
  readonly dpop: boolean
}

/** An unknown URL accepts no query token and requires no DPoP. */
export const NO_RULES: CredentialRules = Object.freeze({ queryToken: false, dpop: false })

/** A guard compiled for one site: everything its requests run. */
export interface BoundRoute {
  /** The path template, as audit events and the allowlist name the route. */
  readonly route: string
  /** Authentication aside, the route's flow: its decision, then its limit. */
  readonly steps: RouteSteps
  readonly response: ResponseRules
  /** The rules of `guard.body`, or `null` when the route checks no body. */
  readonly body: BodyRules | null
  /** The inventory rows of the site. */
  readonly entries: readonly InventoryEntry[]
}

/** A guard validated once, for binding to each site the adapter finds it on. */
export interface RoutePlan {
  readonly credentials: CredentialRules
  /** Compiles the guard for a site; throws a `PortcullisConfigError` naming the site. */
  bind(site: BindSite): BoundRoute
}

function atCallSite(err: unknown): unknown {
  if (!isPortcullisConfigError(err)) return err
  // The route is not known yet: the message names where the guard was declared instead.
  return new PortcullisConfigError(err.code as CodeOfKind<'config'>, err.message, {
    ...(err.field === undefined ? {} : { field: err.field }),
    ...(err.errors.length === 0 ? {} : { errors: err.errors }),
    cause: err,
  })
}

function planLimit(compiled: CompiledGuard, label: string, limits: AppLimits | undefined) {
  const raw = compiled.guard.rateLimit
  if (limits !== undefined) return limits.plan(raw, { label, isPublic: compiled.public !== null })
  if (raw === undefined) return null
  throw new PortcullisConfigError(
    'PCL_INVALID_GUARD',
    `${label}: guard.rateLimit needs a rate limiter: add the rateLimit option to createGuard (e.g. rateLimit: { max: 600, timeWindow: '1 minute' }: the default limit of every route and its store, which guard.rateLimit replaces on this one)`,
    { route: label, field: 'guard.rateLimit' },
  )
}

function planEgressOf(compiled: CompiledGuard, label: string, limits: AppLimits | undefined) {
  const { guard } = compiled
  if (guard.budget === undefined && guard.enumeration === undefined) return null
  if (limits !== undefined) {
    return limits.planEgress(guard, { label, isPublic: compiled.public !== null })
  }
  const field = guard.budget === undefined ? 'guard.enumeration' : 'guard.budget'
  throw new PortcullisConfigError(
    'PCL_INVALID_GUARD',
    `${label}: ${field} needs a store: add the rateLimit option to createGuard (e.g. rateLimit: { max: 600, timeWindow: '1 minute' }, with redis to share it between instances)`,
    { route: label, field },
  )
}

/** One error for the configuration errors of one guard: the error, or all of them together. */
function guardErrors(errors: readonly PortcullisConfigError[]): PortcullisConfigError | undefined {
  const [first] = errors
  if (first === undefined || errors.length === 1) return first
  // No `route`: the label is where the guard was declared (see atCallSite).
  return new PortcullisConfigError('PCL_INVALID_GUARD', errors.map((e) => e.message).join('\n'), {
    ...(first.field === undefined ? {} : { field: first.field }),
    errors,
  })
}

/** Runs each step, collecting every configuration error, so that one throw names them all. */
function collecting(): {
  readonly attempt: <T>(step: () => T) => T | undefined
  readonly errors: PortcullisConfigError[]
} {
  const errors: PortcullisConfigError[] = []
  return {
    errors,
    attempt(step) {
      try {
        return step()
      } catch (err) {
        if (!isPortcullisConfigError(err)) throw err
        errors.push(err)
        return undefined
      }
    },
  }
}

/**
 * Validates a route guard now (a bad one throws, naming `label`: where the guard was declared),
 * then compiles it again for each site it is bound to, which can check what depends on the route
 * (`{ param }` claim rules, `requireBody` for methods with a body).
 */
export function planRoute(routeGuard: unknown, label: string, runtime: GuardRuntime): RoutePlan {
  const { options, decision, log, limits } = runtime
  const compileOptions = {
    policies: options.policies,
    reportOnly: options.reportOnly.policy,
    ...(options.knownScopes === undefined ? {} : { knownScopes: options.knownScopes }),
  }
  const scopes = { knownScopes: options.knownScopes }
  let planned
  try {
    const compiled = compileGuard(routeGuard, { route: label, ...compileOptions })
    const { attempt, errors } = collecting()
    const limit = attempt(() => planLimit(compiled, label, limits))
    const egress = attempt(() => planEgressOf(compiled, label, limits))
    const response = attempt(() =>
      planResponse(
        compiled.guard.response,
        { label, requireResponse: options.requireResponse, ...scopes },
        runtime.errorsOnly,
      ),
    )
    const body = attempt(() => planBody(compiled.guard.body, { label, ...scopes }))
    const invalid = guardErrors(errors)
    if (invalid !== undefined) throw invalid
    // Each step planned: one that failed threw above.
    planned = { limit: limit ?? null, egress: egress ?? null, response: response!, body: body! }
  } catch (err) {
    throw atCallSite(err)
  }
  const { limit, egress, response, body } = planned
  const flags = routeGuard as { queryToken?: unknown; dpop?: unknown }
  return {
    credentials: Object.freeze({
      queryToken: flags.queryToken === true,
      dpop: flags.dpop === true,
    }),
    bind(site: BindSite): BoundRoute {
      const compiled = compileGuard(routeGuard, {
        route: site.label,
        params: site.params,
        ...compileOptions,
      })
      for (const warning of compiled.warnings) {
        log.warn({ route: site.label, field: warning.field }, `portcullis: ${warning.message}`)
      }
      const summary = bodySummary(body, {
        label: site.label,
        methods: site.methods,
        requireBody: options.requireBody,
      })
      const where = { route: site.template, reportOnly: compiled.reportOnly }
      const limiter = limit && limits!.limiter(limit, where)
      const meters = egress && limits!.egress(egress, where)
      // The route's flow after authentication, as the Fastify plugins build it: the lockout,
      // its decision, then its limit, enumeration limit and budget.
      const steps: RouteSteps = {
        decide: createRouteDecision(compiled, site.template, decision, options.reportOnly),
        after: [...(limiter === null ? [] : [limiter]), ...(meters?.steps ?? [])],
      }
      const lockout = compiled.public === null ? limits?.lockout(compiled.reportOnly) : null
      if (lockout != null) steps.lockout = lockout
      return {
        route: site.template,
        steps,
        response: createResponseRules(
          response,
          site.template,
          decision,
          options.maxBodyBytes,
          meters?.meter == null ? [] : [meters.meter],
        ),
        body: createBodyRules(body, site.template, decision, compiled.reportOnly),
        entries: inventoryEntries(site.methods, {
          url: site.template,
          constraints: null,
          compiled,
          rateLimit: limit?.summary ?? null,
          response: response.summary,
          body: summary,
          budget: egress?.budgetSummary ?? null,
          enumeration: egress?.enumerationSummary ?? null,
          exposure: response.exposure,
          limit: limit === null ? null : limitExposure(limit),
          classify: options.classify,
        }),
      }
    },
  }
}
