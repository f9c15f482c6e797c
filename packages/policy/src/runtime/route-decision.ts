import { AuthenticationError, AuthorizationError, DependencyError } from '@portcullis/core'
import {
  CALLBACK_TIMEOUT_MS,
  deadline,
  emitAudit,
  refuse,
  reportDenial,
  SPANS,
  type Answer,
  type DecisionContext,
  type Pending,
  type RequestView,
} from '@portcullis/core/internal'
import {
  decideGuard,
  type CompiledGuard,
  type GuardOutcome,
  type ReportOnlySettings,
} from '../guard/index.js'

/** Decides one request on one route: `null` to serve it, or the refusal to send. */
export type Decide = (view: RequestView) => Pending

/**
 * Builds the decision step of one route from its compiled guard, once: allow (audited), report
 * (report-only: the denial audited, the request served) or refuse. It decides on the principal
 * the authentication step verified (`view.principal`), never on anything the application set.
 */
export function createRouteDecision(
  compiled: CompiledGuard,
  route: string,
  context: DecisionContext,
  reportOnly: ReportOnlySettings,
): Decide {
  const traced = (step: Decide): Decide => context.telemetry?.traceStep(SPANS.decide, step) ?? step
  if (compiled.public !== null) {
    return traced(function portcullisPublicRoute(view) {
      emitAudit(view, context, 'allow', 'PCL_PUBLIC', { route })
      return null
    })
  }

  function apply(view: RequestView, outcome: GuardOutcome): Answer {
    if (outcome.kind === 'allow') {
      emitAudit(view, context, 'allow', outcome.reason, { route })
      return null
    }
    if (outcome.error.cause !== undefined) {
      // A `check` that threw: the client gets a plain 403; the exception stays server side.
      view.log.warn({ err: outcome.error.cause }, 'portcullis: a guard check threw; request denied')
    }
    if (outcome.kind === 'report') {
      reportDenial(view, context, outcome.error, route)
      return null
    }
    return refuse(view, context, outcome.error, route)
  }

  const timeout = context.callbackTimeout ?? CALLBACK_TIMEOUT_MS
  const late = (): DependencyError =>
    new DependencyError('PCL_CHECK_UNAVAILABLE', {
      message: `a guard check did not answer within ${timeout} ms`,
    })

  return traced(function portcullisDecide(view) {
    const outcome = decideGuard(compiled, view.principal, view.native, reportOnly)
    if (!(outcome instanceof Promise)) return apply(view, outcome)
    // An async `check` that never settles must not hold the request: past the deadline it is
    // refused (503), whatever report-only says, as every outage is.
    return deadline(outcome, timeout, late).then(
      (decided) => apply(view, decided),
      (err: unknown) => {
        if (err instanceof DependencyError) {
          view.log.warn({ route }, 'portcullis: a guard check did not answer in time; refused')
        }
        return refuse(view, context, err, route)
      },
    )
  })
}

/**
 * The run-time second line of defence: a route without a valid guard (possible only with
 * `unguardedRoutes: 'deny'`, or a guard never bound) is refused, whoever asks.
 */
export function refuseUnguarded(route: string | null, context: DecisionContext): Decide {
  return function portcullisUnguarded(view) {
    return refuse(view, context, new AuthorizationError('PCL_ROUTE_NOT_GUARDED'), route)
  }
}

/**
 * Anonymous requests to URLs no route matches get 401 instead of 404, so the route map cannot
 * be enumerated without a token (method mismatches land here too). `null`: let the adapter
 * answer its 404.
 */
export function decideUnknownRoute(
  context: DecisionContext,
  reportOnly: ReportOnlySettings,
): Decide {
  return function portcullisUnknownRoute(view) {
    if (view.principal !== null) return null
    const missing = new AuthenticationError('PCL_TOKEN_MISSING')
    if (reportOnly.policy) {
      reportDenial(view, context, missing, null)
      return null
    }
    return refuse(view, context, missing, null)
  }
}
