import { isPortcullisError, type Principal } from '@portcullis/core'
import type { AuthRequest, Authenticator, PreAuthLimiter } from '@portcullis/tokens'
import type { Request, Response } from 'express'
import { deny, reportDenial, type DecisionContext } from '../lib/decision.js'
import { requestState } from '../lib/request-state.js'

/** What authentication needs, shared by every guard of one `createGuard`. */
export interface Authentication {
  readonly authenticator: Authenticator
  readonly preAuth: PreAuthLimiter | undefined
  /** `reportOnly: 'including-tokens'`: an invalid token is reported and the request goes on. */
  readonly reportOnly: boolean
  readonly decision: DecisionContext
}

/** What a route accepts as credentials, from its guard. */
export interface CredentialRules {
  /** `guard.queryToken: true`: one `?access_token=` is accepted. */
  readonly queryTokenAllowed: () => boolean
  /** `guard.dpop: true`: only DPoP-bound tokens with a valid proof (RFC 9449). */
  readonly dpopRequired: () => boolean
}

// The pre-auth limiter reads nothing but the client address; Express's request has it.
type LimitedRequest = Parameters<PreAuthLimiter['check']>[0]

/**
 * Reads and verifies the request's credentials, once per request (a second guard on the same
 * request reuses the principal), and calls `then` with the principal, or `null` when the request
 * carried no token. An invalid token is refused here, whatever the route requires: it is never
 * ignored. `then` is not called when the request was refused.
 */
export function authenticate(
  req: Request,
  res: Response,
  auth: Authentication,
  route: string | null,
  rules: CredentialRules,
  then: (principal: Principal | null) => void,
): void {
  const state = requestState(req)
  if (state.authenticated) {
    then(req.principal ?? null)
    return
  }
  const { authenticator, preAuth, decision } = auth

  function accepted(principal: Principal | null): void {
    state.authenticated = true
    req.principal = principal
    then(principal)
  }

  function refused(err: unknown): void {
    const authentication = isPortcullisError(err) && err.kind === 'authentication'
    if (authentication) preAuth?.failed(req as unknown as LimitedRequest)
    if (auth.reportOnly && authentication) {
      reportDenial(req, decision, err, route)
      accepted(null)
      return
    }
    deny(req, res, decision, err, route)
  }

  // Express strips mount paths from `req.url`: the query is read from the URL as sent.
  const view: AuthRequest = {
    message: req,
    url: req.originalUrl,
    queryTokenAllowed: rules.queryTokenAllowed,
    dpopRequired: rules.dpopRequired,
  }
  let credentials
  try {
    credentials = authenticator.credentials(view)
    // For refusals after authentication (a missing token, a missing scope): a Bearer request got
    // here only where Bearer is accepted, and keeps the plain Bearer challenge.
    if (credentials?.scheme !== 'Bearer')
      state.dpop = authenticator.dpopChallenge(view, credentials)
  } catch (err) {
    refused(err)
    return
  }
  if (credentials === null) {
    accepted(null)
    return
  }
  const throttled = preAuth?.check(req as unknown as LimitedRequest) ?? null
  if (throttled !== null) {
    deny(req, res, decision, throttled, route)
    return
  }
  let result
  try {
    result = authenticator.verify(credentials, view)
  } catch (err) {
    refused(err)
    return
  }
  if (result instanceof Promise) {
    void result.then(accepted, refused)
    return
  }
  accepted(result)
}
