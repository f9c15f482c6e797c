import {
  andThen,
  answerUnknownRoute,
  errorProblem,
  settle,
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
  const answer = answerUnknownRoute(
    context.unknownRoutes === 'unauthorized'
      ? decideUnknownRoute(context.decision, context.reportOnly)
      : null,
  )
  return function portcullisUnknownRoute(req, res, next) {
    const view = viewOf(req, res, context.log, NO_RULES, null)
    const problem = andThen(context.authenticate(view), () => answer(view))
    settle(problem, next, (refusal) => answerProblem(res, refusal), next)
  }
}

/**
 * The last error handler of a sealed app: every error becomes problem+json (the runtime's
 * `errorProblem`), never Express's HTML page and never a stack.
 */
export function errorHandler(context: FinalContext): ErrorRequestHandler {
  const { decision, log } = context
  return function portcullisErrorHandler(err: unknown, _req, res, _next) {
    if (res.headersSent) {
      log.error({ err }, 'portcullis: error after the response started; connection closed')
      res.destroy()
      return
    }
    answerProblem(res, errorProblem(err, decision, log))
  }
}
