/**
 * `@portcullis/testing`: a test issuer (keys, a JWKS as an object or served on loopback, token
 * minting, deliberately bad tokens) for Portcullis users' own tests, the examples and the demo.
 *
 * @packageDocumentation
 */
export { createTestIssuer, type TestIssuer, type TestIssuerOptions } from './test-issuer.js'
export type { BadTokens } from './bad-tokens.js'
export type { MintOptions } from './claims.js'
export { JWKS_PATH, type JwksBehavior } from './jwks-server.js'
export type { TestAlgorithm } from './algorithms.js'
export type { VerificationKey } from './signing-key.js'
export { bearer } from './bearer.js'
