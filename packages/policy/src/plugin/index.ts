import './augment.js'

export type { ClaimMatcher, KnownScopes, Scope } from './augment.js'
export { policyOptionsSchema, type PolicyPluginOptions } from './options.js'
export { policyPlugin } from './policy-plugin.js'
export { ROUTE_GUARD_HOOK, type ReportOnlySettings } from './route-hooks.js'
