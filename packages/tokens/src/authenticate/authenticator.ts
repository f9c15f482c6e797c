import { AuthenticationError, type Principal } from '@portcullis/core'
import type { IncomingMessage } from 'node:http'
import { extractBearerToken, isToken68 } from '../bearer/index.js'
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
}

/** Credentials found on a request, before verification. */
export interface Credentials {
  /** The HTTP authentication scheme the token came with (RFC 9110 §11). */
  readonly scheme: 'Bearer'
  /** The access token (a token68); never log it. */
  readonly token: string
}

/**
 * Framework-free request authentication: finds the credentials of a request and verifies them.
 * The Fastify plugin and the Express adapter share it, so both accept and refuse the same requests.
 */
export interface Authenticator {
  /**
   * The request's credentials, or `null` when it carries none (the route's guard decides whether
   * that is allowed). Synchronous and cheap: no signature work. Throws `AuthenticationError`
   * (`PCL_INVALID_REQUEST`, `PCL_TOKEN_INVALID`) for ambiguous or malformed credentials.
   */
  credentials(request: AuthRequest): Credentials | null
  /**
   * Verifies credentials found on `request` and returns the principal (synchronously for a token
   * seen before). Throws or rejects with a `PortcullisError`; see {@link Verifier.verify}.
   */
  verify(credentials: Credentials, request: AuthRequest): Principal | Promise<Principal>
  /** The verifier underneath (realm, limits). */
  readonly verifier: Verifier
}

// Node keeps only the first of duplicate Authorization headers in `headers` (it discards
// duplicates of that header), so duplicates are found in the raw header list.
function authorizationOf(message: IncomingMessage): string | string[] | undefined {
  const value = message.headers.authorization
  if (value === undefined) return undefined
  const raw = message.rawHeaders
  let seen = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length === 13 && name.toLowerCase() === 'authorization') seen++
  }
  return seen > 1
    ? raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === 'authorization')
    : value
}

// RFC 6750 §2.3 allows `access_token` in the query. We refuse it unless the route opts in
// (`guard.queryToken: true`), because URLs end up in access logs, proxies and browser history.
// The substring test keeps the common case to one scan. Returns every value, or null.
function queryTokens(url: string): string[] | null {
  if (!url.includes('access_token')) return null
  const query = url.indexOf('?')
  if (query === -1) return null
  const values = new URLSearchParams(url.slice(query + 1)).getAll('access_token')
  return values.length === 0 ? null : values
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
  function credentials(request: AuthRequest): Credentials | null {
    const inQuery = queryTokens(request.url)
    const token =
      inQuery === null
        ? extractBearerToken(authorizationOf(request.message))
        : tokenFromQuery(request, inQuery)
    return token === null ? null : { scheme: 'Bearer', token }
  }

  function verify(found: Credentials): Principal | Promise<Principal> {
    return verifier.verify(found.token)
  }

  return Object.freeze({ credentials, verify, verifier })
}
