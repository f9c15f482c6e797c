import { AuthenticationError, isPortcullisError, renderProblem } from '@portcullis/core'
import type { ErrorRequestHandler, RequestHandler } from 'express'
import { authenticate, type Authentication, type CredentialRules } from '../guard/authenticate.js'
import { deny, reportDenial, sendProblem } from '../lib/decision.js'
import { errorStatus, statusProblem } from '../lib/http-problem.js'

// An unknown URL accepts no query token and requires no DPoP.
const UNKNOWN_ROUTE: CredentialRules = { queryTokenAllowed: () => false, dpopRequired: () => false }

/**
 * The last middleware of a sealed app, for URLs (and methods) no route serves. An invalid token
 * is refused as anywhere else; an anonymous request gets 401 (`unknownRoutes: 'unauthorized'`),
 * so the route map cannot be enumerated without a token; everyone else a problem+json 404.
 */
export function unknownRouteHandler(
  auth: Authentication,
  unknownRoutes: 'unauthorized' | 'not-found',
  reportOnly: boolean,
): RequestHandler {
  return function portcullisUnknownRoute(req, res) {
    authenticate(req, res, auth, null, UNKNOWN_ROUTE, (principal) => {
      if (principal === null && unknownRoutes === 'unauthorized') {
        const missing = new AuthenticationError('PCL_TOKEN_MISSING')
        if (!reportOnly) {
          deny(req, res, auth.decision, missing, null)
          return
        }
        reportDenial(req, auth.decision, missing, null)
      }
      sendProblem(res, statusProblem(404))
    })
  }
}

/**
 * The last error handler of a sealed app: every error becomes problem+json, never Express's HTML
 * page and never a stack. Portcullis errors render as themselves; an error carrying an HTTP
 * status (a body that does not parse, a payload too large, `http-errors`) keeps its status with
 * an `about:blank` problem; anything else is logged server side and answered 500 `PCL_INTERNAL`.
 */
export function errorHandler(auth: Authentication): ErrorRequestHandler {
  const { decision } = auth
  return function portcullisErrorHandler(err: unknown, _req, res, _next) {
    if (res.headersSent) {
      decision.log.error({ err }, 'portcullis: error after the response started; connection closed')
      res.destroy()
      return
    }
    if (isPortcullisError(err) && err.kind !== 'config' && err.kind !== 'internal') {
      sendProblem(res, renderProblem(err, { realm: decision.realm }))
      return
    }
    const status = errorStatus(err)
    if (status !== null) {
      if (status >= 500) decision.log.error({ err }, 'portcullis: request failed')
      sendProblem(res, statusProblem(status))
      return
    }
    decision.log.error({ err }, 'portcullis: unhandled error; answered 500')
    sendProblem(res, renderProblem(err))
  }
}
