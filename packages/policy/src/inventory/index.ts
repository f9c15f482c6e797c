export {
  compareEntries,
  inventoryEntries,
  type InventoryEntry,
  type InventoryRoute,
  type PortcullisApi,
} from './inventory.js'
export {
  accessOf,
  classOf,
  exposureOf,
  fieldClassesSchema,
  limitsOf,
  plainValue,
  requiresNoScopeOrCaller,
  type ExposedField,
  type ExposureGroup,
  type FieldClasses,
  type LimitExposure,
  type MaxItemsExposure,
  type ResponseExposure,
  type RouteAccess,
  type RouteExposure,
  type RouteLimits,
} from './register.js'
export {
  compareRegisters,
  exposureFindings,
  isRegisterDocument,
  registerDocument,
  registerKey,
  REGISTER_VERSION,
  type ExposureFinding,
  type PolicyChange,
  type RegisterDocument,
  type RegisteredRoute,
} from './register-gate.js'
export { parseRouteTree, type PrintedRoute } from './route-tree.js'
