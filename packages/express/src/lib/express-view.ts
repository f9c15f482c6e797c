import type { DpopChallenge, GuardRequest, Principal } from '@portcullis/core'
import {
  writeProblem,
  type GuardLogger,
  type ProblemToWrite,
  type RequestView,
} from '@portcullis/core/internal'
import type { Request, Response } from 'express'
import type { IncomingMessage } from 'node:http'

/** What a route accepts as credentials, from its guard. */
export interface CredentialRules {
  /** `guard.queryToken: true`: one `?access_token=` is accepted. */
  readonly queryToken: boolean
  /** `guard.dpop: true`: only DPoP-bound tokens with a valid proof (RFC 9449). */
  readonly dpop: boolean
}

/** An unknown URL accepts no query token and requires no DPoP. */
export const NO_RULES: CredentialRules = Object.freeze({ queryToken: false, dpop: false })

/** The runtime's view of an Express request; one per request, made by the first guard. */
class ExpressView implements RequestView {
  readonly start = performance.now()
  principal: Principal | null = null
  authenticated = false
  dpop: DpopChallenge | undefined = undefined
  route: string | null

  constructor(
    private readonly req: Request,
    private readonly res: Response,
    readonly log: GuardLogger,
    private readonly rules: CredentialRules,
    route: string | null,
  ) {
    this.route = route
  }

  get method(): string {
    return this.req.method
  }

  get message(): IncomingMessage {
    return this.req
  }

  // Express strips mount paths from `req.url`: the query is read from the URL as sent.
  get url(): string {
    return this.req.originalUrl
  }

  get ip(): string | undefined {
    return this.req.ip
  }

  get requestId(): string | null {
    // Set by request-id middleware (`pino-http`, `express-request-id`); Express has none.
    const id = (this.req as { id?: unknown }).id
    if (typeof id === 'string') return id
    return typeof id === 'number' ? String(id) : null
  }

  get native(): GuardRequest {
    return this.req
  }

  queryTokenAllowed(): boolean {
    return this.rules.queryToken
  }

  dpopRequired(): boolean {
    return this.rules.dpop
  }

  setHeader(name: string, value: string | number): void {
    if (!this.res.headersSent) this.res.setHeader(name, value)
  }
}

// In a WeakMap rather than on the request: Express changes a request's prototype on every
// request, and adding properties to such an object costs more than a lookup here.
const views = new WeakMap<object, RequestView>()

/**
 * The request's view, made by the first guard to see it (its credential rules and route apply);
 * later guards on the same request share it, and so its principal.
 */
export function viewOf(
  req: Request,
  res: Response,
  log: GuardLogger,
  rules: CredentialRules,
  route: string | null,
): RequestView {
  let view = views.get(req)
  if (view === undefined) {
    view = new ExpressView(req, res, log, rules, route)
    views.set(req, view)
  } else {
    ;(view as ExpressView).route = route
  }
  return view
}

/** The principal the runtime verified for a request: `null` until then, or without a token. */
export function principalOf(req: object): Principal | null {
  return views.get(req)?.principal ?? null
}

// Responses Portcullis answered itself (a refusal, an unknown URL, an error): they pass the
// response hold's check that some guard admitted the response.
const admitted = new WeakSet<object>()

/** True once a Portcullis handler answered this response itself. */
export function isAdmitted(res: object): boolean {
  return admitted.has(res)
}

/** Writes a problem+json answer of Portcullis's own (a refusal, a 404, an error). */
export function answerProblem(res: Response, problem: ProblemToWrite): void {
  admitted.add(res)
  writeProblem(res, problem)
}
