export {
  compileGuard,
  parseGuard,
  routeParams,
  type CompiledGuard,
  type GuardSite,
  type GuardWarning,
} from './compile-guard.js'
export {
  explainGuard,
  matchTemplate,
  principalFromClaims,
  type ExplainStep,
  type Explanation,
} from './explain-guard.js'
export { decideGuard, type GuardOutcome, type ReportOnlySettings } from './decide-guard.js'
export type { Decision, Evaluate } from './evaluate-guard.js'
export { routeGuardSchema, type ParsedClaimMatcher, type ParsedRouteGuard } from './guard-schema.js'
export {
  hasRequirement,
  mergeGuards,
  normalizeGuard,
  type GuardCheck,
  type MergeSite,
  type NormalizedGuard,
} from './normalized-guard.js'
export { invalidGuardsError, startupError } from './guard-errors.js'
export { summarizeGuard } from './summarize-guard.js'
export { resolvePolicies } from './named-policies.js'
