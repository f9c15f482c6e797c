import {
  createAuditEvent,
  deliverAudit,
  type AuditEvent,
  type AuditReason,
  type AuditSink,
} from '../audit.js'
import type { PortcullisError } from '../errors/index.js'
import { renderProblem, type RenderedProblem } from '../problem/index.js'
import type { Principal } from '../principal.js'
import type { Telemetry } from '../telemetry/index.js'
import type { GuardLogger, RequestView } from './request-view.js'

/** What every step needs to answer and report a decision. */
export interface DecisionContext {
  /** `realm` for `WWW-Authenticate` (RFC 6750 §3). */
  readonly realm: string | undefined
  /** URL of the RFC 9728 resource metadata, sent as `resource_metadata` in challenges. */
  readonly resourceMetadata?: string | undefined
  /** Where audit events go; the request's logger when absent. */
  readonly audit: AuditSink | undefined
  /** Milliseconds an async user callback (`check`) may take; 1000 when absent. */
  readonly callbackTimeout?: number
  /** OpenTelemetry metrics and spans of the decisions; none when absent. */
  readonly telemetry?: Telemetry
}

/** True when `log` writes `level`. */
export function logs(log: GuardLogger, level: 'info' | 'warn'): boolean {
  if (log.level === 'silent') return false
  return typeof log.isLevelEnabled === 'function' ? log.isLevelEnabled(level) : true
}

/** Details of one audit event beside the request's. */
export interface AuditDetails {
  readonly route: string | null
  readonly status?: number | null
  readonly reportOnly?: boolean
  readonly principal?: Principal | null
  /** Request body field paths the decision is about (never values). */
  readonly fields?: readonly string[] | undefined
  /** For a response refused in reject mode: the undeclared field paths (never values). */
  readonly undeclaredFields?: readonly string[]
  /** For `guard.response.owner`: how many returned objects did not belong to the principal. */
  readonly notOwned?: number
}

/**
 * Emits one audit event, unless nobody would read it (no sink and a logger that drops it). A sink
 * that throws is logged and ignored: auditing never changes a response.
 */
export function emitAudit(
  view: RequestView,
  context: DecisionContext,
  decision: AuditEvent['decision'],
  reason: AuditReason,
  details: AuditDetails,
): void {
  context.telemetry?.decision(
    view,
    decision === 'allow' ? 'allowed' : details.reportOnly === true ? 'reported' : 'denied',
    reason,
    details.route,
    details.status ?? null,
  )
  if (context.audit === undefined && !logs(view.log, decision === 'allow' ? 'info' : 'warn')) {
    return
  }
  const event = createAuditEvent(
    decision,
    reason,
    {
      method: view.method,
      route: details.route,
      principal: details.principal ?? view.principal,
      requestId: view.requestId,
      ip: view.ip ?? null,
      durationMs: view.start > 0 ? performance.now() - view.start : 0,
    },
    details,
  )
  deliverAudit(event, context.audit, view.log)
}

/**
 * Refuses a request: the problem+json to send (with the request's DPoP challenge, if any) and a
 * `deny` audit event. An error that is not a Portcullis error is logged here, server side only,
 * and answered as a bare 500.
 */
export function refuse(
  view: RequestView,
  context: DecisionContext,
  err: unknown,
  route: string | null,
  details?: Pick<AuditDetails, 'fields' | 'undeclaredFields' | 'notOwned'>,
): RenderedProblem {
  const problem = renderProblem(err, {
    realm: context.realm,
    dpop: view.dpop,
    resourceMetadata: context.resourceMetadata,
  })
  if (problem.body.code === 'PCL_INTERNAL') {
    view.log.error({ err }, 'portcullis: unexpected error while guarding a request')
  }
  emitAudit(view, context, 'deny', problem.body.code, {
    route,
    status: problem.status,
    ...details,
  })
  return problem
}

/** Report-only: the audit event a denial would emit, while the request is served. */
export function reportDenial(
  view: RequestView,
  context: DecisionContext,
  err: PortcullisError,
  route: string | null,
  fields?: readonly string[],
): void {
  emitAudit(view, context, 'deny', err.code, {
    route,
    status: err.status,
    reportOnly: true,
    fields,
  })
}

/** The body of a problem as bytes: sent as is (RFC 9457 defines no charset parameter). */
export function problemBytes(problem: RenderedProblem): Buffer {
  return Buffer.from(JSON.stringify(problem.body))
}
