import type { PortcullisErrorCode } from './errors/index.js'
import type { Principal } from './principal.js'

/**
 * Reason code of an audit event: a `PCL_*` error code for a denial, or why it was allowed.
 * `PCL_NOT_OWNED` is an `allow` whose response left without the objects that did not belong to
 * the principal (`guard.response.owner`, strip mode); `notOwned` counts them.
 */
export type AuditReason = PortcullisErrorCode | 'PCL_ALLOWED' | 'PCL_PUBLIC' | 'PCL_NOT_OWNED'

/**
 * One access decision. Emitted for every request a guard decides on, allow or deny.
 * It never holds the token, a key, or the raw URL (which could carry secrets in its query):
 * only the route template.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/operations.md#audit-events
 */
export interface AuditEvent {
  /** Always `'portcullis.decision'`, to filter audit events out of a shared log. */
  readonly type: 'portcullis.decision'
  /** `allow` when the request was served, `deny` when it was refused. */
  readonly decision: 'allow' | 'deny'
  /** Why. */
  readonly reason: AuditReason
  /** True when the guard only reported a denial and served the request (report-only mode). */
  readonly reportOnly: boolean
  /** HTTP status sent when denied; `null` when allowed. */
  readonly status: number | null
  /** The request method. */
  readonly method: string
  /** The route template (`/v1/videos/:id`), or `null` when no route matched. */
  readonly route: string | null
  /** `principal.subject`, or `null` when there is no verified principal. */
  readonly subject: string | null
  /** `principal.issuer`, or `null`. */
  readonly issuer: string | null
  /** `principal.clientId`, or `null`. */
  readonly clientId: string | null
  /** The framework's request id, when there is one. */
  readonly requestId: string | null
  /** The client address as the framework reports it. */
  readonly ip: string | null
  /** Time the guard spent deciding, in milliseconds. */
  readonly durationMs: number
  /**
   * The request body's field paths a body decision is about (`ownerId`, `chapters[].title`):
   * paths only, never values. Present on `PCL_FIELD_NOT_WRITABLE` and `PCL_UNKNOWN_FIELD`.
   */
  readonly fields?: readonly string[]
  /** Event time, milliseconds since the epoch. */
  readonly time: number
  /**
   * For a response refused in `mode: 'reject'` (`PCL_RESPONSE_REJECTED`): the paths of the
   * fields its allowlist does not declare (`owner.email`, `[].uploadIp`), so the handler can be
   * fixed; key names only, never their values (deduplicated, at most 20). Absent otherwise.
   */
  readonly undeclaredFields?: readonly string[]
  /**
   * How many returned objects did not belong to the principal (`guard.response.owner`): dropped
   * (`PCL_NOT_OWNED`, strip mode) or the reason the response was refused (`PCL_RESPONSE_REJECTED`,
   * reject mode). A count only, never the objects. Absent otherwise.
   */
  readonly notOwned?: number
}

/**
 * Receives audit events. It must not throw (an exception is caught and logged, never turned
 * into a response) and should return quickly: it runs on the request path.
 */
export type AuditSink = (event: AuditEvent) => void

/** What an adapter knows of a request when it reports a decision on it. */
export interface AuditRequest {
  readonly method: string
  /** The route template, or `null` when no route matched. */
  readonly route: string | null
  readonly principal: Principal | null
  readonly requestId: string | null
  readonly ip: string | null
  /** Time the guard has spent on the request so far, in milliseconds. */
  readonly durationMs: number
}

/**
 * Builds the audit event of one decision, the same for every adapter. It takes only what an
 * event may hold: never the token, nor the raw URL.
 *
 * @example
 * ```ts
 * const event = createAuditEvent('deny', 'PCL_TOKEN_MISSING', request, { status: 401 })
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/operations.md#audit-events
 */
export function createAuditEvent(
  decision: AuditEvent['decision'],
  reason: AuditReason,
  request: AuditRequest,
  details: {
    readonly status?: number | null
    readonly reportOnly?: boolean
    readonly fields?: readonly string[] | undefined
    readonly undeclaredFields?: readonly string[] | undefined
    readonly notOwned?: number | undefined
  } = {},
): AuditEvent {
  const principal = request.principal
  const event: AuditEvent = {
    type: 'portcullis.decision',
    decision,
    reason,
    reportOnly: details.reportOnly ?? false,
    status: details.status ?? null,
    method: request.method,
    route: request.route,
    subject: principal?.subject ?? null,
    issuer: principal?.issuer ?? null,
    clientId: principal?.clientId ?? null,
    requestId: request.requestId,
    ip: request.ip,
    durationMs: request.durationMs,
    time: Date.now(),
  }
  return details.fields === undefined &&
    details.undeclaredFields === undefined &&
    details.notOwned === undefined
    ? event
    : {
        ...event,
        ...(details.fields === undefined ? {} : { fields: details.fields }),
        ...(details.undeclaredFields === undefined
          ? {}
          : { undeclaredFields: details.undeclaredFields }),
        ...(details.notOwned === undefined ? {} : { notOwned: details.notOwned }),
      }
}

/** The part of a pino-style logger (`logger.warn({ ...fields }, 'message')`) Portcullis writes to. */
export interface AuditLogger {
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
  error(fields: object, message: string): void
}

/**
 * Delivers an audit event: to `sink` when there is one (a sink that throws is logged and
 * ignored: auditing never changes a response), else to `log`, `info` for an allow and `warn`
 * for a deny.
 */
export function deliverAudit(
  event: AuditEvent,
  sink: AuditSink | undefined,
  log: AuditLogger,
): void {
  if (sink !== undefined) {
    try {
      sink(event)
    } catch (err) {
      log.error({ err }, 'portcullis: the audit sink threw; event dropped')
    }
    return
  }
  if (event.decision === 'allow') log.info({ audit: event }, 'portcullis: allowed')
  else log.warn({ audit: event }, 'portcullis: denied')
}
