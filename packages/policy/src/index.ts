/**
 * `@portcullis/policy`: route guards compiled once, deny by default, and the route inventory.
 *
 * @packageDocumentation
 */
import './plugin/augment.js'

export {
  compileGuard,
  decideGuard,
  invalidGuardsError,
  mergeGuards,
  normalizeGuard,
  parseGuard,
  resolvePolicies,
  routeGuardSchema,
  routeParams,
  summarizeGuard,
  type CompiledGuard,
  type Decision,
  type Evaluate,
  type GuardOutcome,
  type GuardCheck,
  type GuardSite,
  type NormalizedGuard,
  type ParsedClaimMatcher,
  type ParsedRouteGuard,
} from './guard/index.js'
export {
  compareEntries,
  parseRouteTree,
  type InventoryEntry,
  type PortcullisApi,
  type PrintedRoute,
} from './inventory/index.js'
export {
  policyOptionsSchema,
  policyPlugin,
  ROUTE_GUARD_HOOK,
  type ClaimMatcher,
  type KnownScopes,
  type PolicyPluginOptions,
  type ReportOnlySettings,
  type Scope,
} from './plugin/index.js'
export { policyPlugin as default } from './plugin/index.js'
