import { AuthenticationError, type DpopChallenge, type Principal } from '@portcullis/core'
import type { AuthRequest, Credentials } from '../authenticate/authenticator.js'
import { connectionOrigin, requestPath } from '../dpop/htu.js'
import { createProofVerifier } from '../dpop/verify-proof.js'
import type { ResolvedDpopOptions } from '../options/resolve-tokens-options.js'
import { certificateThumbprint } from './certificate-thumbprint.js'

/**
 * Enforces sender constraints (RFC 9449 DPoP, RFC 8705 certificate-bound tokens) on a verified
 * token, per request: what a leaked token alone cannot pass.
 */
export interface SenderCheck {
  /** JWS algorithms accepted in DPoP proofs, for the `algs` of DPoP challenges. */
  readonly algs: readonly string[]
  /**
   * Whether only DPoP is accepted for this request (the route requires it); challenges then use
   * the DPoP scheme alone.
   */
  dpopOnly(request: AuthRequest): boolean
  /**
   * Returns the principal when the request proves possession of what its token (presented as
   * `credentials`) is bound to, and throws or rejects with an `AuthenticationError` otherwise.
   */
  check(
    principal: Principal,
    credentials: Credentials,
    request: AuthRequest,
  ): Principal | Promise<Principal>
}

type IssuerMode = 'required' | 'allowed'

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function mismatch(message: string, detail: string, dpop?: DpopChallenge): AuthenticationError {
  return new AuthenticationError('PCL_TOKEN_BINDING_MISMATCH', {
    message,
    detail,
    dpop,
  })
}

/** The serialised origin of the URL an adapter names, `null` when it is no URL. */
function originOf(url: string): string | null {
  try {
    return new URL(url).origin
  } catch {
    return null
  }
}

/** The confirmation (RFC 7800 `cnf`) of a verified token: the key and certificate it is bound to. */
function confirmationOf(
  principal: Principal,
): { jkt: string | undefined; x5t: string | undefined } | null {
  const cnf = principal.claims.cnf
  if (cnf === undefined) return null
  const jkt = isPlainObject(cnf) ? cnf.jkt : undefined
  const x5t = isPlainObject(cnf) ? cnf['x5t#S256'] : undefined
  if (
    !isPlainObject(cnf) ||
    (jkt !== undefined && (typeof jkt !== 'string' || jkt.length === 0)) ||
    (x5t !== undefined && (typeof x5t !== 'string' || x5t.length === 0))
  ) {
    throw new AuthenticationError('PCL_TOKEN_INVALID', {
      message: 'Token claim has the wrong type: cnf',
    })
  }
  // A token bound by a method we do not verify (cnf.jwk, cnf.kid, ...) must not pass as a bearer
  // token: its issuer meant it to be unusable without a proof (RFC 7800 §3).
  if (jkt === undefined && x5t === undefined) {
    throw mismatch(
      'Token cnf names no confirmation method Portcullis verifies (jkt, x5t#S256)',
      'This access token is bound to a key in a way this service does not support.',
    )
  }
  return { jkt, x5t }
}

/**
 * Creates the sender check of one set of options: the DPoP proof verifier (with its replay cache
 * and nonces) and each issuer's DPoP mode.
 */
export function createSenderCheck(
  options: ResolvedDpopOptions,
  issuers: ReadonlyMap<string, IssuerMode>,
): SenderCheck {
  const proofs = createProofVerifier(options)
  const algs = options.algorithms
  const required: DpopChallenge = Object.freeze({ algs, only: true })
  const offered: DpopChallenge = Object.freeze({ algs, only: false })

  function dpopOnly(request: AuthRequest): boolean {
    return request.dpopRequired?.() === true
  }

  function origins(request: AuthRequest): readonly string[] {
    if (options.origins !== undefined) return options.origins
    const origin =
      request.origin === undefined ? connectionOrigin(request.message) : originOf(request.origin)
    // An opaque origin ('null') needs no exception: parseHtu reads only http(s) URIs, whose
    // origin is never 'null', so it matches no htu.
    return origin === null ? [] : [origin]
  }

  // A route that requires DPoP refused bearer credentials already (Authenticator.credentials).
  function checkBearer(principal: Principal, jkt: string | undefined): void {
    // RFC 9449 §7.2: a DPoP-bound token is only usable with its proof, so as a bearer token it
    // is what a thief would send.
    if (jkt !== undefined) {
      throw mismatch(
        'DPoP-bound token (cnf.jkt) presented as a Bearer token',
        'This access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof.',
        offered,
      )
    }
    if (issuers.get(principal.issuer) === 'required') {
      throw new AuthenticationError('PCL_DPOP_REQUIRED', {
        message: 'Bearer token where a DPoP-bound token is required',
        detail: 'Send a DPoP-bound access token with the DPoP scheme and a DPoP proof.',
        dpop: required,
      })
    }
  }

  function check(
    principal: Principal,
    credentials: Credentials,
    request: AuthRequest,
  ): Principal | Promise<Principal> {
    const confirmation = confirmationOf(principal)
    // RFC 8705 §3: the certificate of the connection must be the one the token is bound to.
    if (confirmation?.x5t !== undefined) {
      const thumbprint = certificateThumbprint(request.message)
      if (thumbprint !== confirmation.x5t) {
        throw mismatch(
          thumbprint === null
            ? 'Certificate-bound token (cnf.x5t#S256) without a client certificate'
            : 'Certificate-bound token (cnf.x5t#S256) with another client certificate',
          'This access token is bound to a client certificate this connection did not present.',
        )
      }
    }
    const jkt = confirmation?.jkt
    if (credentials.scheme === 'Bearer') {
      checkBearer(principal, jkt)
      return principal
    }
    // RFC 9449 §7.1: the DPoP scheme carries a DPoP-bound token, never a bearer one.
    if (jkt === undefined) {
      throw mismatch(
        'Token presented with the DPoP scheme is not DPoP-bound (no cnf.jkt)',
        'This access token is not DPoP-bound: send it with the Bearer scheme.',
      )
    }
    const path = requestPath(request.url)
    const proven = proofs.verify({
      proof: credentials.proof ?? '',
      method: request.message.method ?? '',
      origins: origins(request),
      path: path ?? '',
      accessToken: credentials.token,
      jkt,
    })
    return proven === undefined ? principal : proven.then(() => principal)
  }

  return Object.freeze({ algs, dpopOnly, check })
}
