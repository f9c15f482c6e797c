/**
 * `portcullis`: the shortest install path. The Fastify plugin of `@portcullis/fastify` (default
 * and named `portcullis`) and the public errors, renderers and types of `@portcullis/core`.
 *
 * ```ts
 * import Fastify from 'fastify'
 * import portcullis from 'portcullis'
 * ```
 *
 * @packageDocumentation
 */
// The declaration merging that types `config.guard` and `request.principal` lives in the
// declarations of @portcullis/policy and @portcullis/tokens. The runtime side-effect imports
// below are empty (augmentation is type-only, hence `sideEffects: false`) and the declaration
// bundler drops them; the type re-exports from both packages further down are what keep an
// `import` of each in this package's .d.ts, so that importing `portcullis` alone loads the
// augmentations. Do not remove those re-exports without another reference to both packages.
import '@portcullis/policy'
import '@portcullis/tokens'

import { portcullis } from '@portcullis/fastify'

// The plugin as the default export by its name: in the CommonJS build, `export { default } from`
// would read the default of the required @portcullis/fastify as Node does, which is its whole
// exports object, not the plugin.
export { portcullis, portcullis as default }
export { redactQueryTokens, serializeRequest } from '@portcullis/fastify'
export type { PortcullisOptions } from '@portcullis/fastify'

export type {
  ClaimMatcher,
  InventoryEntry,
  KnownScopes,
  PortcullisApi,
  Scope,
} from '@portcullis/policy'
export type {
  TokensDpopOptions,
  TokensIntrospectionIssuerOptions,
  TokensIntrospectionOptions,
  TokensIssuerOptions,
  TokensJwksOptions,
  TokensOptions,
} from '@portcullis/tokens'

export {
  AuthenticationError,
  AuthorizationError,
  DependencyError,
  ERROR_DOCS_URL,
  errorCodes,
  formatChallenge,
  isErrorCode,
  isPortcullisConfigError,
  isPortcullisError,
  PortcullisConfigError,
  PortcullisError,
  problemType,
  RateLimitError,
  renderProblem,
  RequestError,
  ResponseError,
  type AuditEvent,
  type AuditReason,
  type AuditSink,
  type BearerErrorCode,
  type ChallengeParams,
  type CodeOfKind,
  type ConfigErrorLocation,
  type DeclaredGuard,
  type DpopChallenge,
  type DpopErrorCode,
  type ErrorCodeSpec,
  type ErrorKind,
  type GuardRequest,
  type PortcullisErrorCode,
  type PortcullisErrorOptions,
  type Principal,
  type PrincipalClaims,
  type ProblemBody,
  type RenderedProblem,
  type RenderProblemOptions,
  type RouteGuard,
  type TelemetryAttributeOptions,
  type TelemetryOptions,
} from '@portcullis/core'
