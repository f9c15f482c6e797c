export { tokensOptionsSchema } from './tokens-options-schema.js'
export type {
  TokensDpopNonceOptions,
  TokensDpopOptions,
  TokensDpopReplayOptions,
  TokensIntrospectionIssuerOptions,
  TokensIntrospectionOptions,
  TokensIssuerOptions,
  TokensJwksOptions,
  TokensOptions,
  TokensRedisClient,
} from './tokens-options.js'
