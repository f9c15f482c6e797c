export {
  createTelemetry,
  INSTRUMENTS,
  NO_TELEMETRY,
  SPANS,
  TELEMETRY_SCOPE,
  type DecisionOutcome,
  type GuardSpan,
  type SpanName,
  type Telemetry,
  type VerificationResult,
} from './telemetry.js'
export {
  resolveTelemetryOptions,
  type ResolvedTelemetryOptions,
  type TelemetryAttributeOptions,
  type TelemetryOptions,
} from './telemetry-options.js'
