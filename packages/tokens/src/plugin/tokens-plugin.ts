import {
  AuthenticationError,
  isPortcullisError,
  type AuditSink,
  type PortcullisError,
} from '@portcullis/core'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { extractBearerToken, isToken68 } from '../bearer/index.js'
import type { TokensOptions } from '../options/index.js'
import { createVerifier, type Verifier } from '../verifier/index.js'
import { deny, reportDenial, routeOf, type DecisionContext } from './fastify-support.js'
import { kGuardStart } from './symbols.js'

/** Options of the tokens plugin: the verifier's options plus where audit events go. */
export type TokensPluginOptions = TokensOptions & {
  /** Audit sink for refused tokens; default: the request's logger. */
  audit?: AuditSink
  /**
   * Report-only for tokens: an invalid token is reported (audit event) and the request goes on
   * without a principal, instead of a 401. Only for adopting Portcullis on a live service;
   * outages (503) stay enforced. Default `false`.
   */
  reportOnly?: boolean
  /**
   * Throttles clients whose tokens keep failing, before any signature work (brute force and
   * token spraying must not burn CPU). `@portcullis/rate-limit` provides one.
   */
  preAuth?: PreAuthLimiter
}

/**
 * A limiter consulted before a token is verified. Both calls are synchronous and must be cheap:
 * cheaper than the verification they protect.
 */
export interface PreAuthLimiter {
  /** An error (a 429) when this client must not get a verification now, else `null`. */
  check(request: FastifyRequest): PortcullisError | null
  /** Counts one failed authentication (a refused token) against this client. */
  failed(request: FastifyRequest): void
}

// Node keeps only the first of duplicate Authorization headers in `headers` (it discards
// duplicates of that header), so duplicates are found in the raw header list.
function authorizationOf(request: FastifyRequest): string | string[] | undefined {
  const value = request.headers.authorization
  if (value === undefined) return undefined
  const raw = request.raw.rawHeaders
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
function queryTokens(url: string | undefined): string[] | null {
  if (url === undefined || !url.includes('access_token')) return null
  const query = url.indexOf('?')
  if (query === -1) return null
  const values = new URLSearchParams(url.slice(query + 1)).getAll('access_token')
  return values.length === 0 ? null : values
}

function queryTokenAllowed(request: FastifyRequest): boolean {
  if (request.is404) return false
  const guard = (request.routeOptions.config as { guard?: { queryToken?: unknown } }).guard
  return guard?.queryToken === true
}

// The token of a request whose query carries `access_token`: only on a route that accepts it,
// only once, and never together with an Authorization header (RFC 6750 §2: one method only).
function tokenFromQuery(request: FastifyRequest, values: string[]): string {
  const refused = (message: string, detail: string): AuthenticationError =>
    new AuthenticationError('PCL_INVALID_REQUEST', { message, detail })
  if (!queryTokenAllowed(request)) {
    throw refused(
      'Access token in the query string',
      'Send the access token in the Authorization header, never in the URL.',
    )
  }
  if (values.length > 1 || request.headers.authorization !== undefined) {
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

function portcullisTokens(
  fastify: FastifyInstance,
  options: TokensPluginOptions,
  next: (err?: Error) => void,
): void {
  const { audit, reportOnly = false, preAuth, ...tokenOptions } = options
  let verifier: Verifier
  try {
    verifier = createVerifier(tokenOptions)
  } catch (err) {
    next(err as Error)
    return
  }
  const context: DecisionContext = { realm: verifier.realm, audit }

  function refuse(
    request: FastifyRequest,
    reply: FastifyReply,
    err: unknown,
    done: (err?: Error) => void,
  ): void {
    const authentication = isPortcullisError(err) && err.kind === 'authentication'
    if (authentication) preAuth?.failed(request)
    if (reportOnly && authentication) {
      reportDenial(request, context, err, routeOf(request))
      done()
      return
    }
    deny(request, reply, context, err, routeOf(request))
  }

  fastify.decorateRequest('principal', null)
  fastify.decorateRequest(kGuardStart, 0)

  // One global hook: it sets `request.principal` from a valid token, refuses an invalid one
  // (also on public routes and unknown URLs: an invalid token is never ignored), and leaves
  // requests without a token to the route's guard.
  fastify.addHook('onRequest', function portcullisAuthenticate(request, reply, done) {
    request[kGuardStart] = performance.now()
    let result
    try {
      const inQuery = queryTokens(request.raw.url)
      const token =
        inQuery === null
          ? extractBearerToken(authorizationOf(request))
          : tokenFromQuery(request, inQuery)
      if (token === null) {
        done()
        return
      }
      const throttled = preAuth?.check(request) ?? null
      if (throttled !== null) {
        deny(request, reply, context, throttled, routeOf(request))
        return
      }
      result = verifier.verify(token)
    } catch (err) {
      refuse(request, reply, err, done)
      return
    }
    if (result instanceof Promise) {
      result.then(
        (principal) => {
          request.principal = principal
          done()
        },
        (err: unknown) => refuse(request, reply, err, done),
      )
      return
    }
    request.principal = result
    done()
  })
  next()
}

/**
 * The tokens plugin: verifies `Authorization: Bearer` tokens and sets `request.principal`.
 * It never requires a token by itself: routes do, through their guard (`@portcullis/policy`).
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md
 */
export const tokensPlugin = fp(portcullisTokens, {
  fastify: '5.x',
  name: '@portcullis/tokens',
})
