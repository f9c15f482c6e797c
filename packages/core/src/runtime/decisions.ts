import {
  createAuditEvent,
  deliverAudit,
  type AuditEvent,
  type AuditReason,
  type AuditSink,
} from '../audit.js'
import {
  isPortcullisError,
  type DpopChallenge,
  type PortcullisError,
  type PortcullisErrorCode,
} from '../errors/index.js'
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

// Whether a logger method does nothing: an empty function (Fastify's logger when the app has
// none, `logger: false`, is one with a `noop` for every level). Calling it has no effect, so an
// audit event built for it would be thrown away. Read once per function.
const EMPTY_FUNCTION = /^(?:function\s*[\w$]*\s*\(\s*\)\s*\{\s*\}|\(\s*\)\s*=>\s*\{\s*\})$/
const emptiness = new WeakMap<object, boolean>()

function isEmptyFunction(fn: unknown): boolean {
  if (typeof fn !== 'function') return false
  let empty = emptiness.get(fn)
  if (empty === undefined) {
    empty = EMPTY_FUNCTION.test(Function.prototype.toString.call(fn))
    emptiness.set(fn, empty)
  }
  return empty
}

/** True when `log` writes `level`. */
export function logs(log: GuardLogger, level: 'info' | 'warn'): boolean {
  if (log.level === 'silent') return false
  if (typeof log.isLevelEnabled === 'function') return log.isLevelEnabled(level)
  // Read, never called here: the method is only looked at.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  return !isEmptyFunction(log[level])
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
  const problem = renderRefusal(err, context, view.dpop)
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

// The problems of refusals that carry nothing of their own (no detail, header, scope or
// challenge: an invalid or expired token, a missing one), rendered once per decision context,
// DPoP challenge and code, frozen, with their bytes. A flood of forged tokens is the cheapest
// request an attacker can send; each one then costs a lookup, not a rendering.
type Renderings = Map<DpopChallenge | undefined, Map<PortcullisErrorCode, RenderedProblem>>
const renderings = new WeakMap<DecisionContext, Renderings>()
const rendered = new WeakMap<RenderedProblem, Buffer>()

// A configuration error is rendered as the bare 500 of any error that is not a refusal: one per
// code, like the others.
function plain(err: unknown): err is PortcullisError {
  if (!isPortcullisError(err)) return false
  return (
    err.detail === undefined &&
    err.headers === undefined &&
    err.scope === undefined &&
    err.dpop === undefined &&
    err.stepUp === undefined
  )
}

function renderRefusal(
  err: unknown,
  context: DecisionContext,
  dpop: DpopChallenge | undefined,
): RenderedProblem {
  const options = { realm: context.realm, dpop, resourceMetadata: context.resourceMetadata }
  if (!plain(err)) return renderProblem(err, options)
  let byChallenge = renderings.get(context)
  if (byChallenge === undefined) {
    byChallenge = new Map()
    renderings.set(context, byChallenge)
  }
  let byCode = byChallenge.get(dpop)
  if (byCode === undefined) {
    byCode = new Map()
    byChallenge.set(dpop, byCode)
  }
  let problem = byCode.get(err.code)
  if (problem === undefined) {
    const fresh = renderProblem(err, options)
    Object.freeze(fresh.body)
    Object.freeze(fresh.headers)
    problem = Object.freeze(fresh)
    rendered.set(problem, Buffer.from(JSON.stringify(problem.body)))
    byCode.set(err.code, problem)
  }
  return problem
}

/** The body of a problem as bytes: sent as is (RFC 9457 defines no charset parameter). */
export function problemBytes(problem: RenderedProblem): Buffer {
  return rendered.get(problem) ?? Buffer.from(JSON.stringify(problem.body))
}
