import { isPortcullisError, type PortcullisError, type Principal } from '@portcullis/core'
import {
  refuse,
  SPANS,
  reportDenial,
  type DecisionContext,
  type Pending,
  type RequestView,
} from '@portcullis/core/internal'
import type { Authenticator } from '../authenticate/index.js'

/**
 * A limiter consulted before a token is verified. Both calls are synchronous and must be cheap:
 * cheaper than the verification they protect.
 */
export interface PreAuthLimiter {
  /** An error (a 429) when this client must not get a verification now, else `null`. */
  check(request: { readonly ip?: string | undefined }): PortcullisError | null
  /** Counts one failed authentication (a refused token) against this client. */
  failed(request: { readonly ip?: string | undefined }): void
}

/** What the authentication step is built from, once per app. */
export interface AuthenticationOptions {
  readonly authenticator: Authenticator
  readonly preAuth: PreAuthLimiter | undefined
  /** `reportOnly: 'including-tokens'`: an invalid token is reported and the request goes on. */
  readonly reportOnly: boolean
  readonly decision: DecisionContext
  /**
   * Where the verifier's startup warnings go (`verifier.warnings`, e.g. an issuer without `typ`),
   * each once, when the step is built: the app's logger.
   */
  readonly log: { warn(fields: object, message: string): void }
}

/**
 * Reads and verifies a request's credentials, once per request (a second guard on the same
 * request reuses the principal), and sets `view.principal`: `null` when the request carried no
 * token (the route's guard decides whether that is allowed). An invalid token is refused here,
 * whatever the route requires: it is never ignored.
 */
export type Authenticate = (view: RequestView) => Pending

/** Builds the authentication step of an app: the same for every adapter. */
export function createAuthentication(options: AuthenticationOptions): Authenticate {
  const { authenticator, preAuth, decision } = options
  for (const { field, message } of authenticator.verifier.warnings ?? []) {
    options.log.warn({ field }, message)
  }

  function refused(view: RequestView, err: unknown): Pending {
    const authentication = isPortcullisError(err) && err.kind === 'authentication'
    if (authentication) preAuth?.failed(view)
    if (options.reportOnly && authentication) {
      reportDenial(view, decision, err, view.route)
      view.authenticated = true
      return null
    }
    return refuse(view, decision, err, view.route)
  }

  function accepted(view: RequestView, principal: Principal): null {
    view.principal = principal
    view.authenticated = true
    return null
  }

  const verify: Authenticate = function portcullisVerifyCredentials(view) {
    let result
    try {
      const credentials = authenticator.credentials(view)
      // For refusals after authentication (a missing token, a missing scope): a Bearer request
      // got here only where Bearer is accepted, and keeps the plain Bearer challenge.
      if (credentials?.scheme !== 'Bearer') {
        view.dpop = authenticator.dpopChallenge(view, credentials)
      }
      if (credentials === null) {
        view.authenticated = true
        return null
      }
      const throttled = preAuth?.check(view) ?? null
      if (throttled !== null) return refuse(view, decision, throttled, view.route)
      result = authenticator.verify(credentials, view)
    } catch (err) {
      return refused(view, err)
    }
    if (result instanceof Promise) {
      return result.then(
        (principal) => accepted(view, principal),
        (err: unknown) => refused(view, err),
      )
    }
    return accepted(view, result)
  }
  // Traced only when credentials are read: a second guard on the request reuses them, no span.
  const traced = decision.telemetry?.traceStep(SPANS.authenticate, verify) ?? verify
  return function portcullisAuthenticate(view) {
    if (view.authenticated) return null
    return traced(view)
  }
}
