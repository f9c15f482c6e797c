/**
 * `@portcullis/tokens`: access-token verification on jose. `createVerifier`,
 * `createAuthenticator` (sender-constrained tokens: DPoP, certificate-bound), `extractBearerToken`,
 * `redactQueryTokens`, `serializeRequest`, `createRedisRevocation`, and the Security Event Token
 * receiver `createSetReceiver` (with `createSetPoller`) are framework-free; `tokensPlugin` is the
 * Fastify plugin that sets `request.principal`, `setPushPlugin` and `createSetPushHandler` mount
 * the SET push endpoint on Fastify and on Express or `node:http`.
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
export {
  extractAccessToken,
  extractBearerToken,
  isToken68,
  type AuthorizationCredentials,
} from './bearer/index.js'
export { serializeRequest, type LoggedRequest, type SerializedRequest } from './logging/index.js'
export {
  tokensOptionsSchema,
  type TokensDpopNonceOptions,
  type TokensDpopOptions,
  type TokensDpopReplayOptions,
  type TokensIntrospectionIssuerOptions,
  type TokensIntrospectionOptions,
  type TokensIssuerOptions,
  type TokensJwksOptions,
  type TokensOptions,
  type TokensRedisClient,
} from './options/index.js'
export { redactQueryTokens } from './query/index.js'
export type {
  ResourceMetadataDocument,
  ResourceMetadataOptions,
} from './resource-metadata/index.js'
export {
  createRedisRevocation,
  type RedisRevocation,
  type RedisRevocationOptions,
  type RevocationTarget,
  type RevokeIssuedBeforeOptions,
} from './revocation/index.js'
export {
  createSetPoller,
  createSetPushHandler,
  createSetReceiver,
  SET_EVENT_TYPES,
  setPushPlugin,
  type SetErrorCode,
  type SetOutcome,
  type SetPoller,
  type SetPollerOptions,
  type SetPollResult,
  type SetPushAnswer,
  type SetPushPluginOptions,
  type SetReceiver,
  type SetReceiverOptions,
  type SetRevocationAction,
  type SetRevocations,
} from './ssf/index.js'
export type { SenderCheck } from './sender/create-sender-check.js'
export { createVerifier, type Verifier } from './verifier/index.js'
export type { PreAuthLimiter } from './runtime/authentication.js'
export { tokensPlugin, type TokensPluginOptions } from './plugin/index.js'
