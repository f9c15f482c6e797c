/**
 * `@portcullis/core/internal`: the framework-free runtime the adapters share (the request view,
 * answers, decisions and audit, the Redis deadline). For Portcullis's own packages: it follows
 * their versions, not semver, and its exports may change in any release.
 *
 * @internal
 * @packageDocumentation
 */
export * from './runtime/index.js'
export { durationIn, type DurationBounds, type DurationUnit } from './duration.js'
export {
  closestName,
  fieldPath,
  invalidOptionsError,
  locateIssues,
  type LocatedIssue,
  type SchemaIssue,
  type UnknownKeyMessage,
} from './errors/index.js'
export { createAuditEvent, deliverAudit, type AuditLogger, type AuditRequest } from './audit.js'
export {
  createTelemetry,
  INSTRUMENTS,
  NO_TELEMETRY,
  resolveTelemetryOptions,
  SPANS,
  TELEMETRY_SCOPE,
  type DecisionOutcome,
  type GuardSpan,
  type ResolvedTelemetryOptions,
  type SpanName,
  type Telemetry,
  type VerificationResult,
} from './telemetry/index.js'
