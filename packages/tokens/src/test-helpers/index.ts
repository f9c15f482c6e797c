// Helpers for this package's own tests; never exported from the package.
export { startJwksServer, type JwksBehavior, type JwksServer } from './jwks-server.js'
export { claimsFor, makeKey, now, rawToken, segment, sign, type TestKey } from './keys.js'
export {
  accessTokenHash,
  makeProofKey,
  signProof,
  type ProofKey,
  type ProofOptions,
} from './dpop.js'
