import { AuthenticationError, AuthorizationError } from '@portcullis/core'
import { deny, emitAudit, reportDenial, type DecisionContext } from '@portcullis/tokens'
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import {
  decideGuard,
  type CompiledGuard,
  type GuardOutcome,
  type ReportOnlySettings,
} from '../guard/index.js'

export type { ReportOnlySettings } from '../guard/index.js'

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
  reportOnly: ReportOnlySettings,
): onRequestHookHandler {
  if (compiled.public !== null) {
    return function portcullisRouteGuard(request, _reply, done) {
      emitAudit(request, context, 'allow', 'PCL_PUBLIC', { route })
      done()
    }
  }

  function apply(
    request: FastifyRequest,
    reply: FastifyReply,
    outcome: GuardOutcome,
    done: (err?: Error) => void,
  ): void {
    if (outcome.kind === 'allow') {
      emitAudit(request, context, 'allow', outcome.reason, { route })
      done()
      return
    }
    if (outcome.error.cause !== undefined) {
      // A `check` that threw: the client gets a plain 403; the exception stays server side.
      request.log.warn(
        { err: outcome.error.cause },
        'portcullis: a guard check threw; request denied',
      )
    }
    if (outcome.kind === 'report') {
      reportDenial(request, context, outcome.error, route)
      done()
      return
    }
    deny(request, reply, context, outcome.error, route)
  }

  return function portcullisRouteGuard(request, reply, done) {
    const outcome = decideGuard(compiled, request.principal, request, reportOnly)
    if (outcome instanceof Promise) {
      void outcome.then((decided) => apply(request, reply, decided, done))
      return
    }
    apply(request, reply, outcome, done)
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
export function unknownRouteHook(
  context: DecisionContext,
  reportOnly: ReportOnlySettings,
): onRequestHookHandler {
  return function portcullisUnknownRoute(request, reply, done) {
    if (!request.is404 || request.principal != null) {
      done()
      return
    }
    const missing = new AuthenticationError('PCL_TOKEN_MISSING')
    if (reportOnly.policy) {
      reportDenial(request, context, missing, null)
      done()
      return
    }
    deny(request, reply, context, missing, null)
  }
}
