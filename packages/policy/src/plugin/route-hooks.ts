import type { RenderedProblem } from '@portcullis/core'
import { andThen, statusProblem, type Pending, type RequestView } from '@portcullis/core/internal'
import { finish, routeConfigOf, viewOf } from '@portcullis/tokens/internal'
import type { onRequestHookHandler } from 'fastify'
import type { Decide } from '../runtime/route-decision.js'

export type { ReportOnlySettings } from '../guard/index.js'

/** Name of the guard's `onRequest` hook; the startup checks look for it on every route. */
export const ROUTE_GUARD_HOOK = 'portcullisRouteGuard'

/** The `onRequest` hooks of Portcullis that may run before the guard: they answer nothing else. */
export const PORTCULLIS_HOOKS: ReadonlySet<string> = new Set(['portcullisAuthenticate'])

/** Where a route's steps travel, in its config: Fastify copies the config into the route. */
export const kRouteSteps = Symbol.for('portcullis.routeSteps')

/** A step after the route's decision (the rate limit): `null` to go on, or the refusal. */
export type Step = (view: RequestView) => Pending

/** What the guard runs for a request of one route, in order. */
export interface RouteSteps {
  /** The route's guard decision (or the refusal of an unguarded route). */
  readonly decide: Decide
  /** What later plugins add (the rate limit), run once the decision allows. */
  readonly after: Step[]
}

function runFrom(steps: RouteSteps, view: RequestView, index: number): Pending {
  for (let i = index; i < steps.after.length; i++) {
    const answer = steps.after[i]!(view)
    if (answer === null) continue
    if (!(answer instanceof Promise)) return answer
    return answer.then((settled) => (settled === null ? runFrom(steps, view, i + 1) : settled))
  }
  return null
}

/** Runs a route's steps: synchronous, and allocation-free, while every step answers at once. */
export function runSteps(steps: RouteSteps, view: RequestView): Pending {
  const decided = steps.decide(view)
  if (decided === null) return runFrom(steps, view, 0)
  if (!(decided instanceof Promise)) return decided
  return decided.then((settled) => (settled === null ? runFrom(steps, view, 0) : settled))
}

// URLs no route serves: a problem+json 404 (`about:blank`), the same for everyone the guard lets
// that far.
const NOT_FOUND = statusProblem(404) as RenderedProblem
const notFound = (): RenderedProblem => NOT_FOUND

/**
 * The guard's one `onRequest` hook, added where the policy plugin is registered (the root, with
 * `@portcullis/fastify`), so it runs before every hook the application adds after Portcullis:
 * no application hook can answer a request the guard has not decided. It runs the matched route's
 * steps (its decision, then its rate limit); a route the policy plugin never compiled (declared
 * before it) is refused; URLs no route serves get `unknown` (401 to anonymous requests), then a
 * problem+json 404 the guard sends itself (`unknown` is `null` with `unknownRoutes: 'not-found'`).
 */
export function routeGuardHook(unknown: Decide | null, unbound: Decide): onRequestHookHandler {
  return function portcullisRouteGuard(request, reply, done) {
    const view = viewOf(request, reply)
    if (request.is404) {
      // The guard answers the 404 itself: no not-found handler runs, so none can leak fields.
      finish(unknown === null ? NOT_FOUND : andThen(unknown(view), notFound), reply, done)
      return
    }
    const steps = routeConfigOf(request)[kRouteSteps] as RouteSteps | undefined
    finish(steps === undefined ? unbound(view) : runSteps(steps, view), reply, done)
  }
}
