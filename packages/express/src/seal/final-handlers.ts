import { settle } from '@portcullis/core/internal'
import { NO_RULES, type GuardRuntime } from '@portcullis/runtime'
import type { ErrorRequestHandler, RequestHandler } from 'express'
import { answerProblem, viewOf } from '../lib/express-view.js'

/**
 * The last middleware of a sealed app, for URLs (and methods) no route serves: the runtime's
 * answer (an invalid token refused as anywhere else, 401 to anonymous requests with
 * `unknownRoutes: 'unauthorized'`, else a problem+json 404).
 */
export function unknownRouteHandler(runtime: GuardRuntime): RequestHandler {
  return function portcullisUnknownRoute(req, res, next) {
    const view = viewOf(req, res, runtime.log, NO_RULES, null)
    settle(runtime.unknownRoute(view), next, (refusal) => answerProblem(res, refusal), next)
  }
}

/**
 * The last error handler of a sealed app: every error becomes problem+json (the runtime's), never
 * Express's HTML page and never a stack.
 */
export function errorHandler(runtime: GuardRuntime): ErrorRequestHandler {
  return function portcullisErrorHandler(err: unknown, _req, res, _next) {
    if (res.headersSent) {
      runtime.log.error({ err }, 'portcullis: error after the response started; connection closed')
      res.destroy()
      return
    }
    answerProblem(res, runtime.error(err))
  }
}
