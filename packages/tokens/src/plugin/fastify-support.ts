import {
  createAuditEvent,
  deliverAudit,
  renderProblem,
  type AuditEvent,
  type AuditReason,
  type AuditSink,
  type PortcullisError,
  type Principal,
} from '@portcullis/core'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { kDpopChallenge, kGuardStart } from './symbols.js'

/** What every Portcullis Fastify hook needs to answer and report a decision. */
export interface DecisionContext {
  /** `realm` for `WWW-Authenticate` (RFC 6750 §3). */
  readonly realm: string | undefined
  /** Where audit events go; the request's logger when absent. */
  readonly audit: AuditSink | undefined
}

function logs(request: FastifyRequest, level: 'info' | 'warn'): boolean {
  const log = request.log as FastifyRequest['log'] & { isLevelEnabled?: (level: string) => boolean }
  if (log.level === 'silent') return false
  return typeof log.isLevelEnabled === 'function' ? log.isLevelEnabled(level) : true
}

/** Milliseconds the guard has spent on this request so far. */
function elapsed(request: FastifyRequest): number {
  const start = request[kGuardStart]
  return start > 0 ? performance.now() - start : 0
}

/**
 * Emits one audit event for a decision, to the configured sink or the request's logger.
 * A sink that throws is logged and ignored: auditing never changes a response.
 */
export function emitAudit(
  request: FastifyRequest,
  context: DecisionContext,
  decision: AuditEvent['decision'],
  reason: AuditReason,
  details: {
    route: string | null
    status?: number | null
    reportOnly?: boolean
    principal?: Principal | null
  },
): void {
  // Without a sink, events go to the logger: skip building one the logger would drop.
  if (context.audit === undefined && !logs(request, decision === 'allow' ? 'info' : 'warn')) return
  const event = createAuditEvent(
    decision,
    reason,
    {
      method: request.method,
      route: details.route,
      principal: details.principal ?? request.principal ?? null,
      requestId: typeof request.id === 'string' ? request.id : String(request.id),
      ip: request.ip ?? null,
      durationMs: elapsed(request),
    },
    details,
  )
  deliverAudit(event, context.audit, request.log)
}

/** The route template of a request, or `null` when no route matched. */
export function routeOf(request: FastifyRequest): string | null {
  return request.is404 ? null : (request.routeOptions.url ?? null)
}

/**
 * Refuses a request: problem+json straight to the client, bypassing the app's error handler so
 * that no handler can turn a guard decision into a stack trace, and a `deny` audit event.
 * Errors that are not Portcullis errors are logged here (server side only) and sent as a bare 500.
 */
export function deny(
  request: FastifyRequest,
  reply: FastifyReply,
  context: DecisionContext,
  err: unknown,
  route: string | null,
): void {
  const { status, headers, body } = renderProblem(err, {
    realm: context.realm,
    dpop: request[kDpopChallenge] ?? undefined,
  })
  if (body.code === 'PCL_INTERNAL') {
    request.log.error({ err }, 'portcullis: unexpected error while guarding a request')
  }
  emitAudit(request, context, 'deny', body.code, { route, status })
  // A Buffer, so Fastify sends the media type as is (RFC 9457 defines no charset parameter).
  void reply
    .code(status)
    .headers(headers)
    .send(Buffer.from(JSON.stringify(body)))
}

/**
 * Report-only mode: the audit event a denial would emit (`decision: 'deny'`,
 * `reportOnly: true`, the status it would have had), while the request is served.
 */
export function reportDenial(
  request: FastifyRequest,
  context: DecisionContext,
  err: PortcullisError,
  route: string | null,
): void {
  emitAudit(request, context, 'deny', err.code, { route, status: err.status, reportOnly: true })
}
