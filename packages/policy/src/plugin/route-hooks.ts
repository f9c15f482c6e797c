import { AuthenticationError, AuthorizationError } from '@portcullis/core'
import { deny, emitAudit, type DecisionContext } from '@portcullis/tokens'
import type { onRequestHookHandler } from 'fastify'
import type { CompiledGuard } from '../guard/index.js'

/** Name of the per-route hook; the startup check looks for it on every route. */
export const ROUTE_GUARD_HOOK = 'portcullisRouteGuard'

/**
 * Builds the `onRequest` hook of one route from its compiled guard, once, at registration.
 * It runs before body parsing, so a refused caller never makes the service parse a body.
 */
export function routeGuardHook(
  compiled: CompiledGuard,
  route: string,
  context: DecisionContext,
): onRequestHookHandler {
  if (compiled.public !== null) {
    return function portcullisRouteGuard(request, _reply, done) {
      emitAudit(request, context, 'allow', 'PCL_PUBLIC', { route })
      done()
    }
  }
  return function portcullisRouteGuard(request, reply, done) {
    // `principal` is undefined when no token plugin is registered: fail closed all the same.
    const principal = request.principal
    if (principal == null) {
      deny(request, reply, context, new AuthenticationError('PCL_TOKEN_MISSING'), route)
      return
    }
    emitAudit(request, context, 'allow', 'PCL_ALLOWED', { route, principal })
    done()
  }
}

/**
 * The run-time second line of defence: the hook of a route that has no valid guard (possible
 * only with `unguardedRoutes: 'deny'`). It refuses every request and never runs the handler.
 */
export function unguardedRouteHook(route: string, context: DecisionContext): onRequestHookHandler {
  return function portcullisRouteGuard(request, reply) {
    deny(request, reply, context, new AuthorizationError('PCL_ROUTE_NOT_GUARDED'), route)
  }
}

/**
 * Anonymous requests to URLs no route matches get 401 instead of 404, so the route map cannot
 * be enumerated without a token (method mismatches land here too).
 */
export function unknownRouteHook(context: DecisionContext): onRequestHookHandler {
  return function portcullisUnknownRoute(request, reply, done) {
    if (!request.is404 || request.principal != null) {
      done()
      return
    }
    deny(request, reply, context, new AuthenticationError('PCL_TOKEN_MISSING'), null)
  }
}
