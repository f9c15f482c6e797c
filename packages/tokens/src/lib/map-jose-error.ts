import {
  AuthenticationError,
  DependencyError,
  isPortcullisError,
  type PortcullisError,
} from '@portcullis/core'
import { errors } from 'jose'
import { SIGNATURE_REFUSED, withoutStack } from '../verifier/jws.js'
import { JwksFetchError } from './key-source.js'

type MappedError = PortcullisError

// Stackless: a refusal is the cheapest request an attacker can send, and the stack of an error
// made here points into this function only.
function invalid(message: string, cause: unknown): AuthenticationError {
  return withoutStack(() => new AuthenticationError('PCL_TOKEN_INVALID', { message, cause }))
}

// The refusal of every signature that does not check (the one error the verifier throws for
// them): built once, like it, so that a flood of forged tokens builds no error at all.
const SIGNATURE_INVALID = Object.freeze(
  invalid('Token signature verification failed', SIGNATURE_REFUSED),
)

// jose puts the whole claims set on claim errors (`payload`); hide it from serializers that walk
// enumerable properties of a `cause`, so a logged error never carries claim values.
function hidePayload(err: errors.JWTClaimValidationFailed | errors.JWTExpired): void {
  Object.defineProperty(err, 'payload', { enumerable: false })
}

/**
 * Maps any failure of a verification to a Portcullis error: the one place jose errors become
 * ours. The original is kept as `cause`; messages name what failed, never a token, claim value or
 * key.
 */
export function mapJoseError(err: unknown): MappedError {
  if (isPortcullisError(err) && (err.kind === 'authentication' || err.kind === 'dependency')) {
    return err
  }
  if (err instanceof JwksFetchError) {
    return new DependencyError('PCL_KEYS_UNAVAILABLE', {
      message: `No usable key: ${err.message}`,
      cause: err,
    })
  }
  if (err instanceof errors.JWTExpired) {
    hidePayload(err)
    const message = err.claim === 'iat' ? 'Token is older than maxTokenAge' : 'Token expired (exp)'
    return new AuthenticationError('PCL_TOKEN_EXPIRED', { message, cause: err })
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    hidePayload(err)
    return invalid(`Token claim check failed: ${err.claim} (${err.reason})`, err)
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return invalid('Token alg not allowed', err)
  if (err === SIGNATURE_REFUSED) return SIGNATURE_INVALID
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return invalid('Token signature verification failed', err)
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return invalid('No configured key matches the token', err)
  }
  if (err instanceof errors.JWKSTimeout) {
    return new DependencyError('PCL_KEYS_UNAVAILABLE', {
      message: 'JWKS request timed out',
      cause: err,
    })
  }
  // A JWKS (or a member of it) jose refuses to import, e.g. a private key published by mistake:
  // the keys are unusable, not the token.
  if (err instanceof errors.JWKSInvalid || err instanceof errors.JWKInvalid) {
    return new DependencyError('PCL_KEYS_UNAVAILABLE', {
      message: 'JWKS holds an unusable key',
      cause: err,
    })
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return invalid('Token is not a valid JWS/JWT', err)
  }
  if (err instanceof errors.JOSEError) return invalid('Token refused by jose', err)
  // jose throws TypeError when a key does not fit the token's alg; everything else we cannot
  // classify also fails closed as an invalid token rather than an unexplained 500.
  return invalid('Token verification failed', err)
}
