import { answerUnknownRoute, runSteps, type RouteSteps } from '@portcullis/core/internal'
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

/**
 * The guard's one `onRequest` hook, added where the policy plugin is registered (the root, with
 * `@portcullis/fastify`), so it runs before every hook the application adds after Portcullis:
 * no application hook can answer a request the guard has not decided. It runs the matched route's
 * steps (its decision, then its rate limit); a route the policy plugin never compiled (declared
 * before it) is refused; URLs no route serves get `unknown` (401 to anonymous requests), then a
 * problem+json 404 the guard sends itself (`unknown` is `null` with `unknownRoutes: 'not-found'`).
 */
export function routeGuardHook(unknown: Decide | null, unbound: Decide): onRequestHookHandler {
  const unknownRoute = answerUnknownRoute(unknown)
  return function portcullisRouteGuard(request, reply, done) {
    const view = viewOf(request, reply)
    if (request.is404) {
      // The guard answers the 404 itself: no not-found handler runs, so none can leak fields.
      finish(unknownRoute(view), reply, done)
      return
    }
    const steps = routeConfigOf(request)[kRouteSteps] as RouteSteps | undefined
    finish(steps === undefined ? unbound(view) : runSteps(steps, view), reply, done)
  }
}
