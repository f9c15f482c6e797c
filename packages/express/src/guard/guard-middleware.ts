import type { CompiledAllowlist } from '@portcullis/allowlist'
import { compileAllowlist } from '@portcullis/allowlist'
import {
  AuthorizationError,
  isPortcullisConfigError,
  PortcullisConfigError,
  type CodeOfKind,
  type ResponseError,
} from '@portcullis/core'
import {
  compileGuard,
  decideGuard,
  type CompiledGuard,
  type GuardOutcome,
  type InventoryEntry,
} from '@portcullis/policy'
import { compileRouteLimit, limitSignature, type RouteLimitPlan } from '@portcullis/rate-limit'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { deny, emitAudit, reportDenial, type DecisionContext } from '../lib/decision.js'
import { kGuardHandle } from '../lib/symbols.js'
import type { ResolvedOptions } from '../options/index.js'
import { createRouteLimiter, type LimiterRuntime, type RouteLimiter } from '../rate-limit/index.js'
import { createResponseGuard, type InstallResponseGuard } from '../response/index.js'
import { authenticate, type Authentication } from './authenticate.js'

/** What every guard of one `createGuard` shares. */
export interface GuardContext {
  readonly options: ResolvedOptions
  readonly auth: Authentication
  readonly decision: DecisionContext
  /** `undefined` without the `rateLimit` option. */
  readonly limits: LimiterRuntime | undefined
  /** The allowlist of error bodies, for routes without `response` (`requireResponse: false`). */
  readonly errorsOnly: CompiledAllowlist
  /** Named rate-limit buckets: one bucket is one count, so one limit. */
  readonly buckets: Map<string, { readonly signature: string; readonly label: string }>
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

interface Binding {
  readonly route: string
  readonly compiled: CompiledGuard
  readonly queryTokenAllowed: () => boolean
  readonly dpopRequired: () => boolean
  readonly limiter: RouteLimiter | null
  readonly installResponse: InstallResponseGuard
}

/** The handle of a guard middleware, or `undefined` for any other function. */
export function guardHandleOf(fn: unknown): GuardHandle | undefined {
  if (typeof fn !== 'function') return undefined
  return (fn as { [kGuardHandle]?: GuardHandle })[kGuardHandle]
}

const YES = (): boolean => true
const NO = (): boolean => false

function atCallSite(err: unknown): unknown {
  if (!isPortcullisConfigError(err)) return err
  // The route is not known yet: the message names where `guard(...)` was called instead.
  return new PortcullisConfigError(err.code as CodeOfKind<'config'>, err.message, {
    ...(err.field === undefined ? {} : { field: err.field }),
    cause: err,
  })
}

function planLimit(
  compiled: CompiledGuard,
  label: string,
  context: GuardContext,
): RouteLimitPlan | null {
  const raw = compiled.guard.rateLimit
  if (context.limits === undefined) {
    if (raw === undefined) return null
    throw new PortcullisConfigError(
      'PCL_INVALID_GUARD',
      `${label}: guard.rateLimit needs the rateLimit option of createGuard (the default limit and store)`,
      { route: label, field: 'guard.rateLimit' },
    )
  }
  const plan = compileRouteLimit(
    raw,
    { label, isPublic: compiled.public !== null },
    context.limits.options.defaults,
  )
  if (plan.kind !== 'limit' || plan.spec.bucket === null) return plan
  const bucket = plan.spec.bucket
  const signature = limitSignature(plan.spec)
  const first = context.buckets.get(bucket)
  if (first === undefined) context.buckets.set(bucket, { signature, label })
  else if (first.signature !== signature) {
    // One bucket is one count: two limits on it would make each route's limit a lie.
    throw new PortcullisConfigError(
      'PCL_INVALID_GUARD',
      `${label}: guard.rateLimit.bucket '${bucket}' is declared with another limit by ${first.label}: routes sharing a bucket must declare the same max, timeWindow, key and overrides`,
      { route: label, field: 'guard.rateLimit.bucket' },
    )
  }
  return plan
}

function planResponse(
  compiled: CompiledGuard,
  label: string,
  context: GuardContext,
): { allowlist: CompiledAllowlist; successBodies: boolean; summary: string } {
  const spec = compiled.guard.response
  if (spec !== undefined) {
    const allowlist = compileAllowlist(spec, {
      route: label,
      scopesGranted: context.options.knownScopes,
    })
    return { allowlist, successBodies: true, summary: allowlist.summary }
  }
  if (context.options.requireResponse) {
    throw new PortcullisConfigError(
      'PCL_INVALID_GUARD',
      `${label}: guard.response is required: declare the fields responses may carry ({ allow: [...] }) or { passthrough: '<reason>' }`,
      { route: label, field: 'guard.response' },
    )
  }
  return {
    allowlist: context.errorsOnly,
    successBodies: false,
    summary: 'NONE: success bodies are not allowlisted',
  }
}

/** Where a route's counts live: per method (HEAD counted as GET), or its bucket. */
function namespaces(template: string, plan: RouteLimitPlan): (method: string) => string {
  if (plan.kind === 'limit' && plan.spec.bucket !== null) {
    const bucket = `b\0${plan.spec.bucket}\0`
    return () => bucket
  }
  const known = new Map<string, string>()
  return function namespaceOf(method) {
    let namespace = known.get(method)
    if (namespace === undefined) {
      namespace = `r\0${method === 'HEAD' ? 'GET' : method} ${template}\0`
      // Bounded: request methods are tokens the HTTP parser accepted, a short list in practice.
      if (known.size < 64) known.set(method, namespace)
    }
    return namespace
  }
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
  const { options, auth, decision } = context
  let compiled: CompiledGuard
  let limitPlan: RouteLimitPlan | null
  let response: ReturnType<typeof planResponse>
  try {
    compiled = compileGuard(routeGuard, {
      route: label,
      policies: options.policies,
      reportOnly: options.reportOnly.policy,
      ...(options.knownScopes === undefined ? {} : { knownScopes: options.knownScopes }),
    })
    limitPlan = planLimit(compiled, label, context)
    response = planResponse(compiled, label, context)
  } catch (err) {
    throw atCallSite(err)
  }
  const queryTokenAllowed = (routeGuard as { queryToken?: unknown }).queryToken === true ? YES : NO
  const dpopRequired = (routeGuard as { dpop?: unknown }).dpop === true ? YES : NO

  const routes = new WeakMap<object, Binding>()
  let mounted: Binding | undefined
  let warned = false

  function refused(route: string): (req: Request, error: ResponseError) => void {
    return (req, error) => {
      emitAudit(req, decision, 'deny', error.code, { route, status: error.status })
    }
  }

  function prepare(site: BindSite): PreparedBinding {
    const forRoute = compileGuard(routeGuard, {
      route: site.label,
      params: site.params,
      policies: options.policies,
      reportOnly: options.reportOnly.policy,
      ...(options.knownScopes === undefined ? {} : { knownScopes: options.knownScopes }),
    })
    const limiter =
      limitPlan === null || limitPlan.kind === 'exempt' || context.limits === undefined
        ? null
        : createRouteLimiter(
            limitPlan.spec,
            {
              route: site.template,
              namespace: namespaces(site.template, limitPlan),
              reportOnly: forRoute.reportOnly,
            },
            context.limits,
          )
    const binding: Binding = {
      route: site.template,
      compiled: forRoute,
      queryTokenAllowed,
      dpopRequired,
      limiter,
      installResponse: createResponseGuard({
        allowlist: response.allowlist,
        successBodies: response.successBodies,
        maxBodyBytes: options.maxBodyBytes,
        refused: refused(site.template),
      }),
    }
    const entries = site.methods.map((method): InventoryEntry =>
      Object.freeze({
        method,
        url: site.template,
        constraints: null,
        guarded: true,
        public: forRoute.public,
        policy: forRoute.public === null ? forRoute.summary : null,
        reportOnly: forRoute.reportOnly,
        rateLimit: limitPlan?.summary ?? null,
        response: response.summary,
      }),
    )
    return {
      entries,
      commit() {
        if (site.route === null) mounted ??= binding
        else if (!routes.has(site.route)) routes.set(site.route, binding)
      },
    }
  }

  function serve(binding: Binding, req: Request, res: Response, next: NextFunction): void {
    binding.installResponse(req, res)
    next()
  }

  function admit(binding: Binding, req: Request, res: Response, next: NextFunction): void {
    if (binding.limiter === null) serve(binding, req, res, next)
    else binding.limiter(req, res, () => serve(binding, req, res, next))
  }

  function decided(
    binding: Binding,
    outcome: GuardOutcome,
    req: Request,
    res: Response,
    next: NextFunction,
  ): void {
    if (outcome.kind === 'allow') {
      emitAudit(req, decision, 'allow', outcome.reason, { route: binding.route })
      admit(binding, req, res, next)
      return
    }
    if (outcome.error.cause !== undefined) {
      // A `check` that threw: the client gets a plain 403; the exception stays server side.
      decision.log.warn(
        { err: outcome.error.cause },
        'portcullis: a guard check threw; request denied',
      )
    }
    if (outcome.kind === 'report') {
      reportDenial(req, decision, outcome.error, binding.route)
      admit(binding, req, res, next)
      return
    }
    deny(req, res, decision, outcome.error, binding.route)
  }

  const portcullisGuard: RequestHandler = function portcullisGuard(req, res, next) {
    const route = req.route as object | undefined
    const binding = (route === undefined ? undefined : routes.get(route)) ?? mounted
    if (binding === undefined) {
      // A route `seal` never saw (declared after it, or `seal` never called): the second line
      // of defence refuses it.
      if (!warned) {
        warned = true
        decision.log.error(
          { guard: label },
          'portcullis: a guard ran on a route guard.seal(app) has not checked; refused with 403 (call seal after declaring every route)',
        )
      }
      deny(req, res, decision, new AuthorizationError('PCL_ROUTE_NOT_GUARDED'), null)
      return
    }
    authenticate(req, res, auth, binding.route, binding, (principal) => {
      const outcome = decideGuard(binding.compiled, principal, req, options.reportOnly)
      if (outcome instanceof Promise) {
        void outcome.then((settled) => decided(binding, settled, req, res, next))
        return
      }
      decided(binding, outcome, req, res, next)
    })
  }
  const handle: GuardHandle = { declaredAt, prepare }
  Object.defineProperty(portcullisGuard, kGuardHandle, { value: Object.freeze(handle) })
  return portcullisGuard
}
