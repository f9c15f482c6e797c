import { isPortcullisError, renderProblem } from '@portcullis/core'
import {
  andThen,
  errorStatus,
  settle,
  statusProblem,
  type DecisionContext,
  type GuardLogger,
} from '@portcullis/core/internal'
import type { ReportOnlySettings } from '@portcullis/policy'
import { decideUnknownRoute } from '@portcullis/policy/internal'
import type { Authenticate as Authentication } from '@portcullis/tokens/internal'
import type { ErrorRequestHandler, RequestHandler } from 'express'
import { answerProblem, NO_RULES, viewOf } from '../lib/express-view.js'

/** What the last handlers of a sealed app share with its guards. */
export interface FinalContext {
  readonly authenticate: Authentication
  readonly decision: DecisionContext
  readonly log: GuardLogger
  readonly unknownRoutes: 'unauthorized' | 'not-found'
  readonly reportOnly: ReportOnlySettings
}

/**
 * The last middleware of a sealed app, for URLs (and methods) no route serves. An invalid token
 * is refused as anywhere else; an anonymous request gets 401 (`unknownRoutes: 'unauthorized'`),
 * so the route map cannot be enumerated without a token; everyone else a problem+json 404.
 */
export function unknownRouteHandler(context: FinalContext): RequestHandler {
  const decide =
    context.unknownRoutes === 'unauthorized'
      ? decideUnknownRoute(context.decision, context.reportOnly)
      : () => null
  return function portcullisUnknownRoute(req, res, next) {
    const view = viewOf(req, res, context.log, NO_RULES, null)
    settle(
      andThen(context.authenticate(view), () => decide(view)),
      () => answerProblem(res, statusProblem(404)),
      (problem) => answerProblem(res, problem),
      next,
    )
  }
}

/**
 * The last error handler of a sealed app: every error becomes problem+json, never Express's HTML
 * page and never a stack. Portcullis errors render as themselves; an error carrying an HTTP
 * status (a body that does not parse, a payload too large, `http-errors`) keeps its status with
 * an `about:blank` problem; anything else is logged server side and answered 500 `PCL_INTERNAL`.
 */
export function errorHandler(context: FinalContext): ErrorRequestHandler {
  const { decision, log } = context
  return function portcullisErrorHandler(err: unknown, _req, res, _next) {
    if (res.headersSent) {
      log.error({ err }, 'portcullis: error after the response started; connection closed')
      res.destroy()
      return
    }
    if (isPortcullisError(err) && err.kind !== 'config' && err.kind !== 'internal') {
      answerProblem(res, renderProblem(err, { realm: decision.realm }))
      return
    }
    const status = errorStatus(err)
    if (status !== null) {
      if (status >= 500) log.error({ err }, 'portcullis: request failed')
      answerProblem(res, statusProblem(status))
      return
    }
    log.error({ err }, 'portcullis: unhandled error; answered 500')
    answerProblem(res, renderProblem(err))
  }
}
