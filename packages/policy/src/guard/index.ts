export { compileGuard, type CompiledGuard, type GuardSite } from './compile-guard.js'
export { routeGuardSchema, type ParsedRouteGuard } from './guard-schema.js'
