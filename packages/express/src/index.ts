/**
 * `@portcullis/express`: the Portcullis guard as Express 5 middleware. Verified tokens
 * (`req.principal`), per-route guards, identity-keyed rate limits and response allowlists, from
 * the same framework-free core as `@portcullis/fastify`, with the same errors and audit events.
 *
 * @packageDocumentation
 */
import './augment.js'

export type { AuthenticatedRequest } from './augment.js'
export { createGuard, type Guard } from './guard/index.js'
export type { PortcullisExpressOptions } from './options/index.js'
export type { GuardLogger } from '@portcullis/core'
export type {
  ClaimMatcher,
  InventoryEntry,
  KnownScopes,
  OpenApiFragment,
  OpenApiOptions,
  Scope,
} from '@portcullis/policy'
// Typed re-exports keep each package's declarations (and their `RouteGuard` augmentations) in
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
