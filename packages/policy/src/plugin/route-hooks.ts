import type { DecisionContext } from '@portcullis/core/internal'
import { finish, viewOf } from '@portcullis/tokens/internal'
import type { onRequestHookHandler } from 'fastify'
import type { CompiledGuard, ReportOnlySettings } from '../guard/index.js'
import {
  createRouteDecision,
  decideUnknownRoute,
  refuseUnguarded,
  type Decide,
} from '../runtime/route-decision.js'

export type { ReportOnlySettings } from '../guard/index.js'

/** Name of the per-route hook; the startup check looks for it on every route. */
export const ROUTE_GUARD_HOOK = 'portcullisRouteGuard'

function hookOf(decide: Decide): onRequestHookHandler {
  return function portcullisRouteGuard(request, reply, done) {
    const view = viewOf(request, reply)
    // Whatever an application hook left in `request.principal`, the route sees what was verified.
    request.principal = view.principal
    finish(decide(view), reply, done)
  }
}

/**
 * Builds the `onRequest` hook of one route from its compiled guard, once, at registration.
 * It runs before body parsing, so a refused caller never makes the service parse a body.
 */
export function routeGuardHook(
  compiled: CompiledGuard,
  route: string,
  context: DecisionContext,
  reportOnly: ReportOnlySettings,
): onRequestHookHandler {
  return hookOf(createRouteDecision(compiled, route, context, reportOnly))
}

/**
 * The run-time second line of defence: the hook of a route that has no valid guard (possible
 * only with `unguardedRoutes: 'deny'`). It refuses every request and never runs the handler.
 */
export function unguardedRouteHook(route: string, context: DecisionContext): onRequestHookHandler {
  return hookOf(refuseUnguarded(route, context))
}

/**
 * Anonymous requests to URLs no route matches get 401 instead of 404, so the route map cannot
 * be enumerated without a token (method mismatches land here too).
 */
export function unknownRouteHook(
  context: DecisionContext,
  reportOnly: ReportOnlySettings,
): onRequestHookHandler {
  const decide = decideUnknownRoute(context, reportOnly)
  return function portcullisUnknownRoute(request, reply, done) {
    if (!request.is404) {
      done()
      return
    }
    finish(decide(viewOf(request, reply)), reply, done)
  }
}
