import { holdResponse } from '@portcullis/allowlist/internal'
import { andThen, runSteps, settle } from '@portcullis/core/internal'
import type { InventoryEntry } from '@portcullis/policy'
import {
  planRoute,
  type BindSite,
  type BoundRoute,
  type GuardRuntime,
  type NodeView,
} from '@portcullis/runtime'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { bodyStep, type BodyStep } from '../body/index.js'
import { answerProblem, slotOf, viewOf } from '../lib/express-view.js'
import { kGuardHandle } from '../lib/symbols.js'

/** Where `seal` found a guard: the runtime's site, and Express's route (`null` for a mount). */
export interface ExpressSite extends BindSite {
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
  prepare(site: ExpressSite): PreparedBinding
}

/** One guard bound to one site: the runtime's route, and its body step. */
interface Binding extends BoundRoute {
  readonly bodyStep: BodyStep
}

/** The handle of a guard middleware, or `undefined` for any other function. */
export function guardHandleOf(fn: unknown): GuardHandle | undefined {
  if (typeof fn !== 'function') return undefined
  return (fn as { [kGuardHandle]?: GuardHandle })[kGuardHandle]
}

/**
 * Builds one guard middleware: the runtime validates the guard now (a bad one throws, naming
 * where `guard(...)` was called), then compiles it for each route `seal` finds it on.
 */
export function createGuardMiddleware(
  routeGuard: unknown,
  declaredAt: string,
  runtime: GuardRuntime,
): RequestHandler {
  const label = `guard() at ${declaredAt}`
  const plan = planRoute(routeGuard, label, runtime)
  const { log } = runtime
  const routes = new WeakMap<object, Binding>()
  let mounted: Binding | undefined
  let warned = false

  function prepare(site: ExpressSite): PreparedBinding {
    const bound = plan.bind(site)
    const binding: Binding = { ...bound, bodyStep: bodyStep(bound.body, site.route) }
    return {
      entries: bound.entries,
      commit() {
        if (site.route === null) mounted ??= binding
        else if (!routes.has(site.route)) routes.set(site.route, binding)
        binding.bodyStep.commit()
      },
    }
  }

  function admit(
    binding: Binding,
    view: NodeView,
    req: Request,
    res: Response,
    next: NextFunction,
  ): void {
    // Where the response methods look for them (see `slotOf`).
    holdResponse(res, binding.response, view, slotOf(res))
    binding.bodyStep.admit(req, res, view, next)
  }

  const portcullisGuard: RequestHandler = function portcullisGuard(req, res, next) {
    const route = req.route as object | undefined
    const binding = (route === undefined ? undefined : routes.get(route)) ?? mounted
    const view = viewOf(req, res, log, plan.credentials, binding?.route ?? null)
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
      settle(runtime.unbound(view), next, (problem) => answerProblem(res, problem), next)
      return
    }
    const authenticated = runtime.authenticate(view)
    const answer =
      authenticated === null
        ? runSteps(binding.steps, view)
        : andThen(authenticated, () => runSteps(binding.steps, view))
    // The warm path (a token seen before, a synchronous guard and counter): no closures.
    if (answer === null) admit(binding, view, req, res, next)
    else {
      settle(
        answer,
        () => admit(binding, view, req, res, next),
        (problem) => answerProblem(res, problem),
        next,
      )
    }
  }
  const handle: GuardHandle = { declaredAt, prepare }
  Object.defineProperty(portcullisGuard, kGuardHandle, { value: Object.freeze(handle) })
  return portcullisGuard
}
