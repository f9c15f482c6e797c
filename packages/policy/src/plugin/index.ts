import './augment.js'

export { policyPlugin } from './policy-plugin.js'
export { type PolicyPluginOptions } from './options.js'
export { ROUTE_GUARD_HOOK } from './route-hooks.js'
