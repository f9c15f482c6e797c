/**
 * `@portcullis/policy`: route guards compiled once, deny by default, and the route inventory.
 *
 * @packageDocumentation
 */
import './plugin/augment.js'

export {
  compileGuard,
  explainGuard,
  type CompiledGuard,
  type ExplainStep,
  type Explanation,
  type Decision,
  type Evaluate,
  type GuardOutcome,
  type GuardCheck,
  type GuardSite,
  type GuardWarning,
  type NormalizedGuard,
  type ParsedClaimMatcher,
  type ParsedRouteGuard,
} from './guard/index.js'
export {
  compareRegisters,
  exposureFindings,
  isRegisterDocument,
  registerDocument,
  REGISTER_VERSION,
  type ExposureFinding,
  type PolicyChange,
  type RegisterDocument,
  type RegisteredRoute,
  type ExplainRequest,
  type RouteExplanation,
  type ExposedField,
  type ExposureGroup,
  type FieldClasses,
  type InventoryEntry,
  type LimitExposure,
  type MaxItemsExposure,
  type PortcullisApi,
  type ResponseExposure,
  type RouteAccess,
  type RouteExposure,
  type RouteLimits,
} from './inventory/index.js'
export {
  openApiFragment,
  type GuardedOperation,
  type JsonSchema,
  type OpenApiFragment,
  type OpenApiOptions,
  type SecurityRequirements,
} from './openapi/index.js'
export {
  policyPlugin,
  type ClaimMatcher,
  type KnownScopes,
  type PolicyPluginOptions,
  type ReportOnlySettings,
  type Scope,
} from './plugin/index.js'
export { policyPlugin as default } from './plugin/index.js'
