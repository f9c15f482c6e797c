import { isPortcullisError, type AuditSink, type PortcullisError } from '@portcullis/core'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { createAuthenticator, type AuthRequest, type Authenticator } from '../authenticate/index.js'
import type { TokensOptions } from '../options/index.js'
import { createVerifier } from '../verifier/index.js'
import { deny, reportDenial, routeOf, type DecisionContext } from './fastify-support.js'
import { kDpopChallenge, kGuardStart } from './symbols.js'

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

function routeGuard(request: FastifyRequest): { queryToken?: unknown; dpop?: unknown } | undefined {
  if (request.is404) return undefined
  return (request.routeOptions.config as { guard?: { queryToken?: unknown; dpop?: unknown } }).guard
}

function queryTokenAllowed(request: FastifyRequest): boolean {
  return routeGuard(request)?.queryToken === true
}

function dpopRequired(request: FastifyRequest): boolean {
  return routeGuard(request)?.dpop === true
}

function portcullisTokens(
  fastify: FastifyInstance,
  options: TokensPluginOptions,
  next: (err?: Error) => void,
): void {
  const { audit, reportOnly = false, preAuth, ...tokenOptions } = options
  let authenticator: Authenticator
  try {
    authenticator = createAuthenticator(createVerifier(tokenOptions))
  } catch (err) {
    next(err as Error)
    return
  }
  const context: DecisionContext = { realm: authenticator.verifier.realm, audit }

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
  fastify.decorateRequest(kDpopChallenge, null)

  // One global hook: it sets `request.principal` from a valid token, refuses an invalid one
  // (also on public routes and unknown URLs: an invalid token is never ignored), and leaves
  // requests without a token to the route's guard.
  // Whether any route declares `guard.dpop`: until one does, requests skip reading their route's
  // options (a getter that builds an object) to find out. Every route that can be served is
  // added after this plugin, so it passes through this hook (those added before are refused as
  // unguarded).
  let dpopRoutes = false
  fastify.addHook('onRoute', function portcullisDpopRoutes(route) {
    const guard = (route.config as { guard?: { dpop?: unknown } } | undefined)?.guard
    if (guard?.dpop !== undefined) dpopRoutes = true
  })

  fastify.addHook('onRequest', function portcullisAuthenticate(request, reply, done) {
    request[kGuardStart] = performance.now()
    let result
    try {
      const view: AuthRequest = {
        message: request.raw,
        url: request.raw.url ?? '/',
        queryTokenAllowed: () => queryTokenAllowed(request),
        dpopRequired: () => dpopRoutes && dpopRequired(request),
      }
      const credentials = authenticator.credentials(view)
      // For the refusals of later hooks (a missing token, a missing scope): a Bearer request got
      // here only where Bearer is accepted, and keeps the plain Bearer challenge.
      if (credentials?.scheme !== 'Bearer') {
        request[kDpopChallenge] = authenticator.dpopChallenge(view, credentials) ?? null
      }
      if (credentials === null) {
        done()
        return
      }
      const throttled = preAuth?.check(request) ?? null
      if (throttled !== null) {
        deny(request, reply, context, throttled, routeOf(request))
        return
      }
      result = authenticator.verify(credentials, view)
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
