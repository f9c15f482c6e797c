/**
 * `@portcullis/policy/internal`: the decision step of the shared runtime, for Portcullis's own
 * adapters and plugins. It follows their versions, not semver, and its exports may change in any
 * release.
 *
 * @internal
 * @packageDocumentation
 */
export {
  createRouteDecision,
  decideUnknownRoute,
  refuseUnguarded,
  type Decide,
} from './runtime/route-decision.js'
export {
  kRouteState,
  routeStateOf,
  type AnnotatedField,
  type AnnotationDetail,
  type RouteState,
} from './plugin/route-state.js'
// The framework-free public functions, re-exported here so that the Express adapter imports
// only this entry: the public index also holds the Fastify plugin (and loads fastify-plugin).
export {
  compileGuard,
  decideGuard,
  invalidGuardsError,
  startupError,
  mergeGuards,
  normalizeGuard,
  parseGuard,
  resolvePolicies,
  routeGuardSchema,
  routeParams,
  summarizeGuard,
} from './guard/index.js'
export {
  accessOf,
  classOf,
  exposureOf,
  fieldClassesSchema,
  limitsOf,
  plainValue,
  requiresNoScopeOrCaller,
  scopesInUse,
  compareEntries,
  inventoryEntries,
  parseRouteTree,
  type InventoryRoute,
  type PrintedRoute,
} from './inventory/index.js'
export { policyOptionsSchema, resolvePolicyOptions } from './plugin/options.js'
export { ROUTE_GUARD_HOOK } from './plugin/index.js'
export {
  applyGuards,
  openApiFragment,
  openApiOptionsSchema,
  resolveOpenApiOptions,
  type DocumentedRoute,
  type OpenApiDocument,
  type OpenApiOptions,
} from './openapi/index.js'
