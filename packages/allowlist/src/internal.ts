/**
 * `@portcullis/allowlist/internal`: the response step of the shared runtime, for Portcullis's own
 * adapters and plugins. It follows their versions, not semver, and its exports may change in any
 * release.
 *
 * @internal
 * @packageDocumentation
 */
export {
  createResponseRules,
  errorBodiesOnly,
  planResponse,
  type Later,
  type PlanSite,
  type ResponsePlan,
  type ResponseRules,
  type SerializedOutcome,
  type ValueOutcome,
} from './runtime/response-rules.js'
export {
  acceptsBody,
  bodySummary,
  createBodyRules,
  declaredLength,
  hasBody,
  NO_BODY_RULE,
  planBody,
  type BodyOutcome,
  type BodyPlan,
  type BodyPlanSite,
  type BodyRouteSite,
  type BodyRules,
} from './runtime/body-rules.js'
export {
  isJsonType,
  readSerializedBody,
  uninspectableError,
  type SerializedBody,
} from './allowlist/index.js'
export {
  allowlistOptionsSchema,
  resolveAllowlistOptions,
  type ResolvedAllowlistOptions,
} from './plugin/options.js'
export {
  approve,
  holdResponse,
  kHolds,
  later,
  nodeResponseSteps,
  pass,
  passes,
  protectResponses,
  refuseHeld,
  settled,
  type Hold,
  type HoldStep,
  type HoldSlot,
  type HoldSteps,
  type ProtectOptions,
  type ResponseMethod,
} from './runtime/response-hold.js'
