import {
  createAuditEvent,
  deliverAudit,
  renderProblem,
  type AuditEvent,
  type AuditReason,
  type PortcullisError,
  type Principal,
} from '@portcullis/core'
import type { DecisionContext as BaseContext } from '@portcullis/tokens'
import type { Request, Response } from 'express'
import type { Problem } from './http-problem.js'
import { logs, type GuardLogger } from './logger.js'
import { dpopChallengeOf, elapsed } from './request-state.js'

/**
 * What every part of the guard needs to answer and report a decision: the Fastify plugins'
 * context (realm, audit sink) and, Express having no logger of its own, where lines go.
 */
export interface DecisionContext extends BaseContext {
  readonly log: GuardLogger
}

function requestId(req: Request): string | null {
  // Set by request-id middleware (`pino-http`, `express-request-id`); Express has none of its own.
  const id = (req as { id?: unknown }).id
  if (typeof id === 'string') return id
  return typeof id === 'number' ? String(id) : null
}

/** Emits one audit event, unless nobody would read it (no sink and a logger that drops it). */
export function emitAudit(
  req: Request,
  context: DecisionContext,
  decision: AuditEvent['decision'],
  reason: AuditReason,
  details: {
    readonly route: string | null
    readonly status?: number | null
    readonly reportOnly?: boolean
    readonly principal?: Principal | null
  },
): void {
  if (context.audit === undefined && !logs(context.log, decision === 'allow' ? 'info' : 'warn')) {
    return
  }
  const event = createAuditEvent(
    decision,
    reason,
    {
      method: req.method,
      route: details.route,
      principal: details.principal ?? req.principal ?? null,
      requestId: requestId(req),
      ip: req.ip ?? null,
      durationMs: elapsed(req),
    },
    details,
  )
  deliverAudit(event, context.audit, context.log)
}

// Headers of the body the application meant to send, which would misdescribe the problem.
const REPRESENTATION = [
  'etag',
  'last-modified',
  'content-encoding',
  'content-range',
  'content-disposition',
]

/**
 * Writes a problem+json response (through `end`, the response's own `end` by default). Once
 * headers are out the status can no longer change, so the connection is closed instead: the
 * client never gets a body the guard did not approve.
 */
export function sendProblem(
  res: Response,
  problem: Problem,
  end: (body: Buffer) => void = (body) => res.end(body),
): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  // A Buffer, so the media type goes out as is (RFC 9457 defines no charset parameter).
  const body = Buffer.from(JSON.stringify(problem.body))
  res.statusCode = problem.status
  for (const name of REPRESENTATION) if (res.hasHeader(name)) res.removeHeader(name)
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value)
  res.setHeader('content-length', body.length)
  end(body)
}

/**
 * Refuses a request: problem+json straight to the client (never through the app's error
 * handlers, so no handler can turn a guard decision into a stack trace) and a `deny` audit
 * event. An error that is not a Portcullis error is logged here, server side only, and sent as
 * a bare 500.
 */
export function deny(
  req: Request,
  res: Response,
  context: DecisionContext,
  err: unknown,
  route: string | null,
): void {
  const problem = renderProblem(err, { realm: context.realm, dpop: dpopChallengeOf(req) })
  if (problem.body.code === 'PCL_INTERNAL') {
    context.log.error({ err }, 'portcullis: unexpected error while guarding a request')
  }
  emitAudit(req, context, 'deny', problem.body.code, { route, status: problem.status })
  sendProblem(res, problem)
}

/** Report-only: the audit event a denial would emit, while the request is served. */
export function reportDenial(
  req: Request,
  context: DecisionContext,
  err: PortcullisError,
  route: string | null,
): void {
  emitAudit(req, context, 'deny', err.code, { route, status: err.status, reportOnly: true })
}
