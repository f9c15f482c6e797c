import type { PortcullisErrorCode } from './errors/index.js'

/** Reason code of an audit event: a `PCL_*` error code for a denial, or why it was allowed. */
export type AuditReason = PortcullisErrorCode | 'PCL_ALLOWED' | 'PCL_PUBLIC'

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
  /** Event time, milliseconds since the epoch. */
  readonly time: number
}

/**
 * Receives audit events. It must not throw (an exception is caught and logged, never turned
 * into a response) and should return quickly: it runs on the request path.
 */
export type AuditSink = (event: AuditEvent) => void
