/**
 * `@portcullis/runtime`: the guard without a framework. Options resolved once, each route's guard
 * compiled once per site, a request view in and an answer out; `@portcullis/express` only
 * translates Express's requests and responses to it. For Portcullis's adapters: it follows their
 * versions, not semver, and its exports may change in any release.
 *
 * @internal
 * @packageDocumentation
 */
export { admitBody, PendingBody } from './body.js'
export { callSite } from './call-site.js'
export { consoleLogger } from './logger.js'
export { resolveOptions, type ResolvedOptions, type RuntimeOptions } from './options.js'
export {
  NO_RULES,
  planRoute,
  type BindSite,
  type BoundRoute,
  type CredentialRules,
  type RoutePlan,
} from './route.js'
export { createGuardRuntime, type GuardRuntime } from './runtime.js'
export { sealError } from './seal-error.js'
export { NodeView, nodeViews, type MakeView, type NodeViews } from './view.js'
