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
  type RouteState,
} from './plugin/route-state.js'
// The framework-free public functions, re-exported here so that the Express adapter imports
// only this entry: the public index also holds the Fastify plugin (and loads fastify-plugin).
export { compileGuard } from './guard/compile-guard.js'
export { invalidGuardsError } from './guard/guard-errors.js'
export { compareEntries } from './inventory/inventory.js'
export { resolvePolicies } from './guard/named-policies.js'
export { policyOptionsSchema } from './plugin/options.js'
