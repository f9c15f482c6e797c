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
