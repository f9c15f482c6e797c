/**
 * `@portcullis/tokens/internal`: the authentication step of the shared runtime and the Fastify
 * request view, for Portcullis's own adapters and plugins. It follows their versions, not
 * semver, and its exports may change in any release.
 *
 * @internal
 * @packageDocumentation
 */
import './plugin/augment.js'

export {
  createAuthentication,
  type Authenticate,
  type AuthenticationOptions,
  type PreAuthLimiter,
} from './runtime/authentication.js'
export { principalAccessors, type PrincipalAccessors } from './runtime/principal-property.js'
export { buildPrincipal } from './lib/principal.js'
export {
  answeredByGuard,
  appendRouteHook,
  finish,
  kView,
  registerOnce,
  routeConfigOf,
  sendProblem,
  viewOf,
  type FlagUse,
  type RouteHookName,
} from './fastify/fastify-view.js'
// The framework-free public functions, re-exported here so that the Express adapter imports
// only this entry: the public index also holds the Fastify plugin (and loads fastify-plugin).
export { createAuthenticator } from './authenticate/authenticator.js'
export { buildVerifier, createVerifier } from './verifier/create-verifier.js'
export { tokensOptionsSchema } from './options/index.js'
export { duration as durationSchema } from './lib/schema-parts.js'
export {
  RESOURCE_METADATA_REASON,
  resolveResourceMetadata,
  resourceMetadataSchema,
  type ResolvedResourceMetadata,
  type ResourceMetadataRoutes,
} from './resource-metadata/index.js'
