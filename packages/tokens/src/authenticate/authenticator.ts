import {
  AuthenticationError,
  isPortcullisError,
  PortcullisConfigError,
  type DpopChallenge,
  type Principal,
} from '@portcullis/core'
import type { IncomingMessage } from 'node:http'
import { isToken68, readAuthorization } from '../bearer/index.js'
import { queryTokenValues } from '../query/index.js'
import type { SenderCheck } from '../sender/create-sender-check.js'
import type { Verifier } from '../verifier/index.js'

/**
 * The parts of an HTTP request that authentication reads, the same for every framework: Fastify's
 * `request.raw` and Express's `req` are both Node's `IncomingMessage`.
 */
export interface AuthRequest {
  /** Node's request: method, headers, the raw header list, the (TLS) socket. */
  readonly message: IncomingMessage
  /**
   * The request target as the client sent it (path and query), before any router rewrote it
   * (Express strips mount paths from `req.url`; pass `req.originalUrl`).
   */
  readonly url: string
  /**
   * Whether the matched route accepts `?access_token=` (`guard.queryToken: true`). Read only when
   * the query carries one. `false` for unknown URLs.
   */
  readonly queryTokenAllowed: () => boolean
  /**
   * Whether the matched route accepts only DPoP-bound tokens with a proof (`guard.dpop: true`,
   * RFC 9449). Absent or `false`: the issuer's `dpop` mode and the token's binding decide.
   */
  readonly dpopRequired?: () => boolean
  /**
   * The origin the client addressed (`https://api.example.com`), against which a DPoP proof's
   * `htu` is checked, when the adapter knows it better than the connection does. Ignored when the
   * options set `dpop.origin`. Default: the connection's scheme (TLS or not) and `Host` header.
   */
  readonly origin?: string
}

/** Credentials found on a request, before verification. */
export interface Credentials {
  /** The HTTP authentication scheme the token came with (RFC 9110 §11, RFC 9449 §7.1). */
  readonly scheme: 'Bearer' | 'DPoP'
  /** The access token (a token68); never log it. */
  readonly token: string
  /** The DPoP proof (the `DPoP` header) for the `DPoP` scheme; never log it. */
  readonly proof?: string
}

/**
 * Framework-free request authentication: finds the credentials of a request and verifies them.
 * The Fastify plugin and the Express adapter share it, so both accept and refuse the same requests.
 */
export interface Authenticator {
  /**
   * The request's credentials (`Bearer`, or `DPoP` with its proof), or `null` when it carries none
   * (the route's guard decides whether that is allowed). Synchronous and cheap: no signature work.
   * Throws `AuthenticationError` for ambiguous or malformed credentials (`PCL_INVALID_REQUEST`,
   * `PCL_TOKEN_INVALID`, `PCL_DPOP_PROOF_INVALID` for a missing or repeated `DPoP` header) and for
   * a bearer token on a route that requires DPoP (`PCL_DPOP_REQUIRED`).
   */
  credentials(request: AuthRequest): Credentials | null
  /**
   * Verifies credentials found on `request` and returns the principal (synchronously for a bearer
   * token seen before): the token ({@link Verifier.verify}), then what it is bound to (`cnf`): the
   * DPoP proof (RFC 9449) and the TLS client certificate (RFC 8705). Throws or rejects with a
   * `PortcullisError`; refusals of DPoP requests carry their challenge as `err.dpop`.
   */
  verify(credentials: Credentials, request: AuthRequest): Principal | Promise<Principal>
  /**
   * The DPoP challenge (RFC 9449 §7.1) for refusing `request` for a reason found after
   * authentication (a missing token, a missing scope): DPoP-only when the request used DPoP or
   * the route requires it, else `undefined` (a plain `Bearer` challenge). Pass it to
   * `renderProblem(err, { dpop })`.
   */
  dpopChallenge(request: AuthRequest, credentials: Credentials | null): DpopChallenge | undefined
  /** The verifier underneath (realm, limits). */
  readonly verifier: Verifier
}

// Node keeps only the first of duplicate Authorization headers in `headers` (it discards
// duplicates of that header) and joins duplicates of unknown ones such as DPoP, so duplicates are
// found in the raw header list. `name` is lower case.
function headerOf(message: IncomingMessage, name: string): string | string[] | undefined {
  const value = message.headers[name]
  if (value === undefined) return undefined
  const raw = message.rawHeaders
  let seen = 0
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i]!
    if (field.length === name.length && field.toLowerCase() === name) seen++
  }
  return seen > 1 ? raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === name) : value
}

// RFC 9449 §4.3 step 1: exactly one DPoP header, holding one proof.
function proofOf(message: IncomingMessage): string {
  const proof = headerOf(message, 'dpop')
  if (typeof proof !== 'string' || proof.length === 0) {
    throw new AuthenticationError('PCL_DPOP_PROOF_INVALID', {
      message: proof === undefined ? 'DPoP scheme without a DPoP proof' : 'Several DPoP headers',
      detail: 'Send exactly one DPoP header with a DPoP proof.',
    })
  }
  return proof
}

// Whether a (possibly malformed) Authorization header names the DPoP scheme.
function usesDpopScheme(authorization: string | string[] | undefined): boolean {
  const header = Array.isArray(authorization) ? authorization[0] : authorization
  return header !== undefined && /^dpop(?![!#$%&'*+\-.^_`|~0-9A-Za-z])/i.test(header)
}

// Errors of a request answered with a DPoP challenge get it attached, so that every adapter
// renders the same WWW-Authenticate without knowing about DPoP.
function withChallenge(err: unknown, dpop: DpopChallenge | undefined): unknown {
  if (dpop === undefined || !isPortcullisError(err) || err.kind !== 'authentication') return err
  if (err.dpop !== undefined) return err
  return new AuthenticationError(err.code as ConstructorParameters<typeof AuthenticationError>[0], {
    message: err.message,
    ...(err.detail === undefined ? {} : { detail: err.detail }),
    ...(err.headers === undefined ? {} : { headers: err.headers }),
    ...(err.scope === undefined ? {} : { scope: err.scope }),
    cause: err.cause,
    dpop,
  })
}

// The token of a request whose query carries `access_token`: only on a route that accepts it,
// only once, and never together with an Authorization header (RFC 6750 §2: one method only).
function tokenFromQuery(request: AuthRequest, values: string[]): string {
  const refused = (message: string, detail: string): AuthenticationError =>
    new AuthenticationError('PCL_INVALID_REQUEST', { message, detail })
  if (!request.queryTokenAllowed()) {
    throw refused(
      'Access token in the query string',
      'Send the access token in the Authorization header, never in the URL.',
    )
  }
  if (values.length > 1 || request.message.headers.authorization !== undefined) {
    throw refused(
      'Access token sent more than once or in more than one way',
      'Send exactly one access token.',
    )
  }
  const token = values[0] ?? ''
  if (!isToken68(token)) {
    throw new AuthenticationError('PCL_TOKEN_INVALID', { message: 'Malformed access_token' })
  }
  return token
}

/**
 * Creates the framework-free authenticator over a verifier.
 *
 * @example
 * ```ts
 * const authenticator = createAuthenticator(createVerifier(options))
 * const request = { message: req, url: req.url ?? '/', queryTokenAllowed: () => false }
 * const credentials = authenticator.credentials(request)
 * const principal = credentials && (await authenticator.verify(credentials, request))
 * ```
 */
export function createAuthenticator(verifier: Verifier): Authenticator {
  // The verifier's own settings (DPoP modes, proof rules), never defaults: a verifier without them
  // would have the authenticator accept a bearer token where its issuer requires DPoP.
  const carried = (verifier as Partial<Verifier>).senderConstraints
  if (typeof carried?.check !== 'function' || typeof carried.dpopOnly !== 'function') {
    throw new PortcullisConfigError(
      'PCL_INVALID_OPTIONS',
      'createAuthenticator needs a verifier made by createVerifier (it carries the sender-constraint settings)',
      { field: 'verifier' },
    )
  }
  const sender: SenderCheck = carried
  const dpopOnly: DpopChallenge = Object.freeze({ algs: sender.algs, only: true })

  function credentials(request: AuthRequest): Credentials | null {
    const authorization = headerOf(request.message, 'authorization')
    try {
      // RFC 6750 §2.3 allows `access_token` in the query. It is refused unless the route opts in
      // (`guard.queryToken: true`): URLs end up in access logs, proxies and browser history.
      const inQuery = queryTokenValues(request.url)
      if (inQuery !== null) return bearerOnly(request, tokenFromQuery(request, inQuery))
      // A bearer token's syntax (token68) is tested by the verifier, on a token it has not
      // verified before: a cached token is the exact string verified then. A DPoP token is
      // tested by readAuthorization, before its proof is looked for.
      const found = readAuthorization(authorization)
      if (found === null) return null
      if (found.scheme === 'Bearer') return bearerOnly(request, found.token)
      return { scheme: 'DPoP', token: found.token, proof: proofOf(request.message) }
    } catch (err) {
      // Refusals of a DPoP request, or on a DPoP-only route, are challenged under DPoP.
      const dpop = sender.dpopOnly(request) || usesDpopScheme(authorization)
      throw withChallenge(err, dpop ? dpopOnly : undefined)
    }
  }

  // A route that requires DPoP refuses a bearer token before any signature work.
  function bearerOnly(request: AuthRequest, token: string): Credentials {
    if (sender.dpopOnly(request)) {
      throw new AuthenticationError('PCL_DPOP_REQUIRED', {
        message: 'Bearer token on a route that requires DPoP',
        detail: 'Send a DPoP-bound access token with the DPoP scheme and a DPoP proof.',
        dpop: dpopOnly,
      })
    }
    return { scheme: 'Bearer', token }
  }

  function dpopChallenge(
    request: AuthRequest,
    found: Credentials | null,
  ): DpopChallenge | undefined {
    return found?.scheme === 'DPoP' || sender.dpopOnly(request) ? dpopOnly : undefined
  }

  // The challenge is worked out only for a refusal: the accepted path stays a cache lookup.
  function refuse(err: unknown, found: Credentials, request: AuthRequest): never {
    throw withChallenge(err, dpopChallenge(request, found))
  }

  function verify(found: Credentials, request: AuthRequest): Principal | Promise<Principal> {
    try {
      const principal = verifier.verify(found.token)
      const result =
        principal instanceof Promise
          ? principal.then((verified) => sender.check(verified, found, request))
          : sender.check(principal, found, request)
      return result instanceof Promise
        ? result.catch((err: unknown) => refuse(err, found, request))
        : result
    } catch (err) {
      return refuse(err, found, request)
    }
  }

  return Object.freeze({ credentials, verify, dpopChallenge, verifier })
}
