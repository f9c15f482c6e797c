import { PortcullisConfigError, type AuditSink, type TelemetryOptions } from '@portcullis/core'
import { createTelemetry } from '@portcullis/core/internal'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { createAuthenticator } from '../authenticate/index.js'
import {
  finish,
  kView,
  principalOf,
  registerOnce,
  viewOf,
  type FlagUse,
} from '../fastify/fastify-view.js'
import type { TokensOptions } from '../options/index.js'
import { createAuthentication, type PreAuthLimiter } from '../runtime/authentication.js'
import { principalAccessors } from '../runtime/principal-property.js'
import { buildVerifier } from '../verifier/create-verifier.js'

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
  /** OpenTelemetry metrics and spans of verifications; see `GuardOptions.telemetry`. */
  telemetry?: TelemetryOptions
  /**
   * The URL of the resource's RFC 9728 metadata, sent as `resource_metadata` in every challenge
   * (RFC 9728 §5.1). `@portcullis/fastify` sets it from its `resourceMetadata` option.
   */
  resourceMetadataUrl?: string
}

function portcullisTokens(
  fastify: FastifyInstance,
  options: TokensPluginOptions,
  next: (err?: Error) => void,
): void {
  const twice = registerOnce(fastify, '@portcullis/tokens')
  if (twice !== null) {
    next(twice)
    return
  }
  const {
    audit,
    reportOnly = false,
    preAuth,
    resourceMetadataUrl,
    telemetry: telemetryOptions,
    ...tokenOptions
  } = options
  let authenticate
  try {
    if (resourceMetadataUrl !== undefined && !URL.canParse(String(resourceMetadataUrl))) {
      throw new PortcullisConfigError(
        'PCL_INVALID_OPTIONS',
        'portcullis options: resourceMetadataUrl: must be the absolute URL of the RFC 9728 metadata',
        { field: 'resourceMetadataUrl' },
      )
    }
    const telemetry = createTelemetry(telemetryOptions)
    const authenticator = createAuthenticator(buildVerifier(tokenOptions, telemetry))
    authenticate = createAuthentication({
      authenticator,
      preAuth,
      reportOnly,
      decision: {
        realm: authenticator.verifier.realm,
        audit,
        telemetry,
        resourceMetadata: resourceMetadataUrl,
      },
      log: fastify.log,
    })
  } catch (err) {
    next(err as Error)
    return
  }

  // `request.principal` reads the principal the runtime verified; an assignment is ignored.
  const principal = principalAccessors<FastifyRequest>(
    principalOf,
    (request, message) => request.log.warn(message),
    'request.principal',
  )
  fastify.decorateRequest(kView, null)
  fastify.decorateRequest('principal', { getter: principal.get, setter: principal.set })

  // Every route that can be served is added after this plugin, so it passes through this hook
  // (those added before are refused as unguarded).
  const flagUse: FlagUse = { used: false }
  fastify.addHook('onRoute', function portcullisCredentialRules(route) {
    const guard = (route.config as { guard?: { dpop?: unknown; queryToken?: unknown } } | undefined)
      ?.guard
    if (guard?.dpop !== undefined || guard?.queryToken !== undefined) flagUse.used = true
  })

  // One global hook: it verifies the token (`request.principal` reads the result), refuses an invalid one
  // (also on public routes and unknown URLs: an invalid token is never ignored), and leaves
  // requests without a token to the route's guard.
  fastify.addHook('onRequest', function portcullisAuthenticate(request, reply, done) {
    const view = viewOf(request, reply, flagUse)
    finish(authenticate(view), reply, done)
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
