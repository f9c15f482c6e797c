/**
 * `@portcullis/core`: the framework-free pieces every Portcullis package shares.
 *
 * @packageDocumentation
 */
export {
  AuthenticationError,
  AuthorizationError,
  DependencyError,
  ERROR_DOCS_URL,
  errorCodes,
  isErrorCode,
  isPortcullisConfigError,
  isPortcullisError,
  PortcullisConfigError,
  PortcullisError,
  problemType,
  RateLimitError,
  RequestError,
  ResponseError,
  type BearerErrorCode,
  type CodeOfKind,
  type ConfigErrorLocation,
  type DpopChallenge,
  type StepUpChallenge,
  type DpopErrorCode,
  type KindErrorConstructor,
  type ErrorCodeSpec,
  type ErrorKind,
  type PortcullisErrorCode,
  type PortcullisErrorOptions,
} from './errors/index.js'
export {
  formatChallenge,
  renderProblem,
  type ChallengeParams,
  type ProblemBody,
  type RenderedProblem,
  type RenderProblemOptions,
} from './problem/index.js'
export type { Principal, PrincipalClaims } from './principal.js'
export type {
  DeclaredGuard,
  GuardOptions,
  GuardRequest,
  RequiredGuardKeys,
  RouteGuard,
} from './guard.js'
export type { Duration } from './duration.js'
export { type AuditEvent, type AuditReason, type AuditSink } from './audit.js'
export type { GuardLogger } from './runtime/request-view.js'
export type { TelemetryAttributeOptions, TelemetryOptions } from './telemetry/index.js'
