export { tokensOptionsSchema } from './tokens-options-schema.js'
export type {
  TokensDpopNonceOptions,
  TokensDpopOptions,
  TokensDpopReplayOptions,
  TokensIssuerOptions,
  TokensJwksOptions,
  TokensOptions,
  TokensRedisClient,
} from './tokens-options.js'
