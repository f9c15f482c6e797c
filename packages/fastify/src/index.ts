/**
 * `@portcullis/fastify`: the one plugin most users install.
 *
 * @packageDocumentation
 */
import '@portcullis/allowlist'
import '@portcullis/policy'
import '@portcullis/rate-limit'
import '@portcullis/tokens'
import { portcullisPlugin } from './plugin/portcullis-plugin.js'

export { portcullisPlugin as portcullis }
export default portcullisPlugin
export type { PortcullisOptions } from './plugin/options.js'
export type {
  ClaimMatcher,
  InventoryEntry,
  KnownScopes,
  OpenApiOptions,
  PortcullisApi,
  Scope,
} from '@portcullis/policy'
// Typed re-exports keep each plugin's declarations (and their `RouteGuard` augmentations) in
// this package's types: a bare side-effect import would be dropped from the bundled .d.ts.
export type { BodySpec, ResponseSpec } from '@portcullis/allowlist'
export type {
  LockoutOptions,
  RateLimitOptions,
  RouteBudget,
  RouteEnumeration,
  RouteRateLimit,
} from '@portcullis/rate-limit'
export type { TokensOptions } from '@portcullis/tokens'
// Fastify logs every URL before any hook runs: the request serializer keeps query tokens out.
export { redactQueryTokens, serializeRequest } from '@portcullis/tokens'
export {
  isPortcullisError,
  PortcullisConfigError,
  PortcullisError,
  type AuditEvent,
  type AuditSink,
  type DeclaredGuard,
  type GuardRequest,
  type Principal,
  type RouteGuard,
  type TelemetryOptions,
} from '@portcullis/core'
