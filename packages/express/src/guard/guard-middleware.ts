import type { CompiledAllowlist } from '@portcullis/allowlist'
import {
  createResponseRules,
  holdResponse,
  planResponse,
  type ResponseRules,
} from '@portcullis/allowlist/internal'
import { isPortcullisConfigError, PortcullisConfigError, type CodeOfKind } from '@portcullis/core'
import {
  andThen,
  runSteps,
  settle,
  type DecisionContext,
  type GuardLogger,
  type RouteSteps,
} from '@portcullis/core/internal'
import type { CompiledGuard, InventoryEntry } from '@portcullis/policy'
import {
  compileGuard,
  createRouteDecision,
  inventoryEntries,
  refuseUnguarded,
} from '@portcullis/policy/internal'
import { limitExposure, type AppLimits } from '@portcullis/rate-limit/internal'
import type { Authenticate } from '@portcullis/tokens/internal'
import type { RequestHandler } from 'express'
import { planGuardBody, type BoundBody } from '../body/index.js'
import { answerProblem, viewOf, type CredentialRules } from '../lib/express-view.js'
import { kGuardHandle } from '../lib/symbols.js'
import type { ResolvedOptions } from '../options/index.js'

/** What every guard of one `createGuard` shares. */
export interface GuardContext {
  readonly options: ResolvedOptions
  readonly authenticate: Authenticate
  readonly decision: DecisionContext
  readonly log: GuardLogger
  /** The app's rate limits; `undefined` without the `rateLimit` option. */
  readonly limits: AppLimits | undefined
  /** The allowlist of error bodies, for routes without `response` (`requireResponse: false`). */
  readonly errorsOnly: CompiledAllowlist
}

/** Where `seal` found a guard: a route (for some methods) or a middleware mount (`USE`). */
export interface BindSite {
  /** `GET,HEAD /v1/videos/:id` or `USE /assets`: how errors and logs name it. */
  readonly label: string
  /** The path template: `/v1/videos/:id`. */
  readonly template: string
  /** `GET`, `HEAD`, `ALL`..., or `USE` for a middleware mount. */
  readonly methods: readonly string[]
  /** Route parameters a `{ param }` claim rule may name. */
  readonly params: readonly string[]
  /** The route (Express's `req.route`) the guard serves, or `null` for a middleware mount. */
  readonly route: object | null
}

/** A guard compiled for one site; committed once the whole app passed `seal`. */
export interface PreparedBinding {
  readonly entries: readonly InventoryEntry[]
  commit(): void
}

/** What `seal` reads on a guard middleware. */
export interface GuardHandle {
  /** Where `guard(...)` was called, for messages. */
  readonly declaredAt: string
  /** Compiles the guard for a site; throws a `PortcullisConfigError` naming the route. */
  prepare(site: BindSite): PreparedBinding
}

/** One guard bound to one site: the runtime's steps for its requests. */
interface Binding {
  readonly route: string
  readonly steps: RouteSteps
  readonly response: ResponseRules
  readonly body: BoundBody
}

/** The handle of a guard middleware, or `undefined` for any other function. */
export function guardHandleOf(fn: unknown): GuardHandle | undefined {
  if (typeof fn !== 'function') return undefined
  return (fn as { [kGuardHandle]?: GuardHandle })[kGuardHandle]
}

function atCallSite(err: unknown): unknown {
  if (!isPortcullisConfigError(err)) return err
  // The route is not known yet: the message names where `guard(...)` was called instead.
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

/** One error for the configuration errors of one guard: the error, or all of them together. */
function guardErrors(errors: readonly PortcullisConfigError[]): PortcullisConfigError | undefined {
  const [first] = errors
  if (first === undefined || errors.length === 1) return first
  return new PortcullisConfigError('PCL_INVALID_GUARD', errors.map((e) => e.message).join('\n'), {
    ...(first.route === undefined ? {} : { route: first.route }),
    ...(first.field === undefined ? {} : { field: first.field }),
    errors,
  })
}

/**
 * Builds one guard middleware: the guard is validated and compiled now (a bad one throws,
 * naming where `guard(...)` was called), then compiled again for each route `seal` finds it on,
 * which can check what depends on the route (`{ param }` claim rules).
 */
export function createGuardMiddleware(
  routeGuard: unknown,
  declaredAt: string,
  context: GuardContext,
): RequestHandler {
  const label = `guard() at ${declaredAt}`
  const { options, decision, log } = context
  const compileOptions = {
    policies: options.policies,
    reportOnly: options.reportOnly.policy,
    ...(options.knownScopes === undefined ? {} : { knownScopes: options.knownScopes }),
  }
  let limitPlan: ReturnType<typeof planLimit> | undefined
  let response: ReturnType<typeof planResponse> | undefined
  let body: ReturnType<typeof planGuardBody> | undefined
  try {
    const compiled = compileGuard(routeGuard, { route: label, ...compileOptions })
    // The limit and the allowlist are both checked, so that one throw names every problem.
    const errors: PortcullisConfigError[] = []
    const attempt = <T>(step: () => T): T | undefined => {
      try {
        return step()
      } catch (err) {
        if (!isPortcullisConfigError(err)) throw err
        errors.push(err)
        return undefined
      }
    }
    limitPlan = attempt(() => planLimit(compiled, label, context.limits))
    response = attempt(() =>
      planResponse(
        compiled.guard.response,
        { label, requireResponse: options.requireResponse, knownScopes: options.knownScopes },
        context.errorsOnly,
      ),
    )
    body = attempt(() => planGuardBody(compiled.guard.body, label, { ...options, decision }))
    const invalid = guardErrors(errors)
    if (invalid !== undefined) throw invalid
  } catch (err) {
    throw atCallSite(err)
  }
  // Both are planned: a step that failed threw above.
  const limitPlanned = limitPlan ?? null
  const planned = response!
  const bodyPlanned = body!
  const flags = routeGuard as { queryToken?: unknown; dpop?: unknown }
  const rules: CredentialRules = Object.freeze({
    queryToken: flags.queryToken === true,
    dpop: flags.dpop === true,
  })

  const routes = new WeakMap<object, Binding>()
  let mounted: Binding | undefined
  let warned = false
  const unbound = refuseUnguarded(null, decision)

  function prepare(site: BindSite): PreparedBinding {
    const forRoute = compileGuard(routeGuard, {
      route: site.label,
      params: site.params,
      ...compileOptions,
    })
    for (const warning of forRoute.warnings) {
      log.warn({ route: site.label, field: warning.field }, `portcullis: ${warning.message}`)
    }
    const limit =
      limitPlanned &&
      context.limits!.limiter(limitPlanned, {
        route: site.template,
        reportOnly: forRoute.reportOnly,
      })
    const binding: Binding = {
      route: site.template,
      // The route's flow after authentication, as the Fastify plugins build it: its decision,
      // then its limit.
      steps: {
        decide: createRouteDecision(forRoute, site.template, decision, options.reportOnly),
        after: limit === null ? [] : [limit],
      },
      response: createResponseRules(planned, site.template, decision, options.maxBodyBytes),
      body: bodyPlanned.bind(site, forRoute.reportOnly),
    }
    const entries = inventoryEntries(site.methods, {
      url: site.template,
      constraints: null,
      compiled: forRoute,
      rateLimit: limitPlanned?.summary ?? null,
      response: planned.summary,
      body: binding.body.summary,
      exposure: planned.exposure,
      limit: limitPlanned === null ? null : limitExposure(limitPlanned),
      classify: options.classify,
    })
    return {
      entries,
      commit() {
        if (site.route === null) mounted ??= binding
        else if (!routes.has(site.route)) routes.set(site.route, binding)
        binding.body.commit()
      },
    }
  }

  const portcullisGuard: RequestHandler = function portcullisGuard(req, res, next) {
    const route = req.route as object | undefined
    const binding = (route === undefined ? undefined : routes.get(route)) ?? mounted
    const view = viewOf(req, res, log, rules, binding?.route ?? null)
    if (binding === undefined) {
      // A route `seal` never saw (declared after it, or `seal` never called): the second line
      // of defence refuses it.
      if (!warned) {
        warned = true
        log.error(
          { guard: label },
          'portcullis: a guard ran on a route guard.seal(app) has not checked; refused with 403 (call seal after declaring every route)',
        )
      }
      settle(unbound(view), next, (problem) => answerProblem(res, problem), next)
      return
    }
    const authenticated = context.authenticate(view)
    const answer =
      authenticated === null
        ? runSteps(binding.steps, view)
        : andThen(authenticated, () => runSteps(binding.steps, view))
    if (answer === null) {
      // The warm path (a token seen before, a synchronous guard and counter): no closures.
      holdResponse(res, binding.response, view)
      binding.body.admit(req, res, view, next)
      return
    }
    settle(
      answer,
      () => {
        holdResponse(res, binding.response, view)
        binding.body.admit(req, res, view, next)
      },
      (problem) => answerProblem(res, problem),
      next,
    )
  }
  const handle: GuardHandle = { declaredAt, prepare }
  Object.defineProperty(portcullisGuard, kGuardHandle, { value: Object.freeze(handle) })
  return portcullisGuard
}
