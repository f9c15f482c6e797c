export { tokensOptionsSchema } from './tokens-options-schema.js'
export type { TokensIssuerOptions, TokensJwksOptions, TokensOptions } from './tokens-options.js'
