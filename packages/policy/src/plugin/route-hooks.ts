import { AuthenticationError, AuthorizationError, type PortcullisError } from '@portcullis/core'
import { deny, emitAudit, reportDenial, type DecisionContext } from '@portcullis/tokens'
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { CompiledGuard } from '../guard/index.js'

/** Name of the per-route hook; the startup check looks for it on every route. */
export const ROUTE_GUARD_HOOK = 'portcullisRouteGuard'

/** Report-only settings of the plugin. */
export interface ReportOnlySettings {
  /** Policy denials are reported, not enforced (unless a route says `reportOnly: false`). */
  readonly policy: boolean
  /** Requests without a token on non-public routes are reported, not refused. */
  readonly tokens: boolean
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
  if (compiled.public !== null) {
    return function portcullisRouteGuard(request, _reply, done) {
      emitAudit(request, context, 'allow', 'PCL_PUBLIC', { route })
      done()
    }
  }
  const { evaluate } = compiled
  const report = compiled.reportOnly

  function decided(
    request: FastifyRequest,
    reply: FastifyReply,
    denial: PortcullisError | null,
    done: (err?: Error) => void,
  ): void {
    if (denial === null) {
      emitAudit(request, context, 'allow', 'PCL_ALLOWED', { route })
      done()
      return
    }
    if (denial.cause !== undefined) {
      // A `check` that threw: the client gets a plain 403; the exception stays server side.
      request.log.warn({ err: denial.cause }, 'portcullis: a guard check threw; request denied')
    }
    if (report) {
      reportDenial(request, context, denial, route)
      done()
      return
    }
    deny(request, reply, context, denial, route)
  }

  return function portcullisRouteGuard(request, reply, done) {
    // `principal` is undefined when no token plugin is registered: fail closed all the same.
    const principal = request.principal
    if (principal == null) {
      const missing = new AuthenticationError('PCL_TOKEN_MISSING')
      if (reportOnly.tokens && report) {
        reportDenial(request, context, missing, route)
        done()
        return
      }
      deny(request, reply, context, missing, route)
      return
    }
    let decision
    try {
      decision = evaluate(principal, request)
    } catch (err) {
      decided(request, reply, new AuthorizationError('PCL_CHECK_DENIED', { cause: err }), done)
      return
    }
    if (decision instanceof Promise) {
      decision.then(
        (denial) => decided(request, reply, denial, done),
        (err: unknown) =>
          decided(request, reply, new AuthorizationError('PCL_CHECK_DENIED', { cause: err }), done),
      )
      return
    }
    decided(request, reply, decision, done)
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
