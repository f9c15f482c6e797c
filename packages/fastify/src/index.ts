/**
 * `@portcullis/fastify`: the one plugin most users install.
 *
 * @packageDocumentation
 */
import '@portcullis/policy'
import '@portcullis/tokens'
import { portcullisPlugin } from './plugin/portcullis-plugin.js'

export { portcullisPlugin as portcullis }
export default portcullisPlugin
export type { PortcullisOptions } from './plugin/options.js'
export type {
  ClaimMatcher,
  InventoryEntry,
  KnownScopes,
  PortcullisApi,
  Scope,
} from '@portcullis/policy'
export {
  isPortcullisError,
  PortcullisConfigError,
  PortcullisError,
  type AuditEvent,
  type AuditSink,
  type GuardRequest,
  type Principal,
  type RouteGuard,
} from '@portcullis/core'
