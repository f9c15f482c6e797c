/**
 * `@portcullis/testing`: a test issuer (keys, a JWKS as an object or served on loopback, token
 * minting, deliberately bad tokens), a JWKS server with fault modes, key and token helpers, and a
 * DPoP proof signer, for Portcullis users' own tests, the examples and the demo.
 *
 * @packageDocumentation
 */
export { createTestIssuer, type TestIssuer, type TestIssuerOptions } from './test-issuer.js'
export type { BadTokens } from './bad-tokens.js'
export { buildPayload, type MintOptions, type PayloadDefaults } from './claims.js'
export {
  createJwksServer,
  HUGE_JWKS_BYTES,
  JWKS_PATH,
  SLOW_JWKS_MS,
  type JwksBehavior,
  type JwksServer,
  type JwksSource,
} from './jwks-server.js'
export {
  createTestKey,
  type KeyPairAlgorithm,
  type TestKey,
  type TestKeyOptions,
} from './test-key.js'
export { rawToken, signToken, type TokenSigner } from './sign.js'
export {
  accessTokenHash,
  createDpopKey,
  signDpopProof,
  type DpopKey,
  type DpopProofOptions,
} from './dpop-proof.js'
export { epochSeconds } from './time-span.js'
export type { TestAlgorithm } from './algorithms.js'
export type { VerificationKey } from './signing-key.js'
export { bearer } from './bearer.js'
