/**
 * `@portcullis/tokens`: access-token verification on jose. `createVerifier` and
 * `extractBearerToken` are framework-free; `tokensPlugin` is the Fastify plugin that sets
 * `request.principal`.
 *
 * @packageDocumentation
 */
import './plugin/augment.js'

export {
  createAuthenticator,
  type AuthRequest,
  type Authenticator,
  type Credentials,
} from './authenticate/index.js'
export { extractBearerToken, isToken68 } from './bearer/index.js'
export {
  tokensOptionsSchema,
  type TokensIssuerOptions,
  type TokensJwksOptions,
  type TokensOptions,
} from './options/index.js'
export { createVerifier, type Verifier } from './verifier/index.js'
export {
  deny,
  emitAudit,
  kGuardStart,
  reportDenial,
  routeOf,
  tokensPlugin,
  type DecisionContext,
  type PreAuthLimiter,
  type TokensPluginOptions,
} from './plugin/index.js'
