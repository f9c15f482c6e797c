/**
 * `@portcullis/policy`: route guards compiled once, deny by default, and the route inventory.
 *
 * @packageDocumentation
 */
import './plugin/augment.js'

export {
  compileGuard,
  routeGuardSchema,
  type CompiledGuard,
  type GuardSite,
  type ParsedRouteGuard,
} from './guard/index.js'
export {
  compareEntries,
  parseRouteTree,
  type InventoryEntry,
  type PortcullisApi,
  type PrintedRoute,
} from './inventory/index.js'
export { policyPlugin, ROUTE_GUARD_HOOK, type PolicyPluginOptions } from './plugin/index.js'
export { policyPlugin as default } from './plugin/index.js'
