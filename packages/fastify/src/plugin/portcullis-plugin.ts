import { allowlistPlugin } from '@portcullis/allowlist'
import { policyPlugin } from '@portcullis/policy'
import { rateLimitPlugin, type RateLimitOptions } from '@portcullis/rate-limit'
import { preAuthOf, withoutPreAuth } from '@portcullis/rate-limit/internal'
import { tokensPlugin } from '@portcullis/tokens'
import { registerOnce, resolveResourceMetadata } from '@portcullis/tokens/internal'
import type { TelemetryOptions } from '@portcullis/core'
import { createTelemetry } from '@portcullis/core/internal'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { resolveOptions, type PortcullisOptions } from './options.js'
import { documentGuards } from './openapi.js'
import { serveResourceMetadata } from './resource-metadata.js'

async function portcullis(fastify: FastifyInstance, options: PortcullisOptions): Promise<void> {
  const twice = registerOnce(fastify, '@portcullis/fastify')
  if (twice !== null) throw twice
  const resolved = resolveOptions(options)
  // Order matters: the token is verified before any policy decision, the rate limit counts
  // only requests the policy let through, and all of it runs before body parsing.
  // One telemetry for the four plugins, validated here (a bad option names `telemetry`).
  const telemetry = { telemetry: createTelemetry(resolved.telemetry) as TelemetryOptions }
  const audit = { ...telemetry, ...(resolved.audit === undefined ? {} : { audit: resolved.audit }) }
  const realm = resolved.tokens.realm === undefined ? {} : { realm: resolved.tokens.realm }
  const rateLimit = withoutPreAuth(resolved.rateLimit ?? {})
  const preAuth = preAuthOf(resolved.rateLimit)
  const metadata =
    resolved.resourceMetadata === undefined
      ? undefined
      : resolveResourceMetadata(resolved.resourceMetadata, {
          tokens: resolved.tokens,
          knownScopes: resolved.knownScopes,
        })
  const metadataUrl = metadata === undefined ? {} : { resourceMetadataUrl: metadata.url }
  await fastify.register(tokensPlugin, {
    ...resolved.tokens,
    ...audit,
    ...metadataUrl,
    ...(resolved.reportOnly === 'including-tokens' ? { reportOnly: true } : {}),
    ...(preAuth === undefined ? {} : { preAuth }),
  })
  await fastify.register(policyPlugin, {
    ...realm,
    ...audit,
    ...metadataUrl,
    ...(resolved.unguardedRoutes === undefined
      ? {}
      : { unguardedRoutes: resolved.unguardedRoutes }),
    ...(resolved.unknownRoutes === undefined ? {} : { unknownRoutes: resolved.unknownRoutes }),
    ...(resolved.policies === undefined ? {} : { policies: resolved.policies }),
    ...(resolved.reportOnly === undefined ? {} : { reportOnly: resolved.reportOnly }),
    ...(resolved.knownScopes === undefined ? {} : { knownScopes: resolved.knownScopes }),
    ...(resolved.callbackTimeout === undefined
      ? {}
      : { callbackTimeout: resolved.callbackTimeout }),
    ...(resolved.classify === undefined ? {} : { classify: resolved.classify }),
  })
  if (resolved.rateLimit !== undefined) {
    await fastify.register(rateLimitPlugin, {
      ...(rateLimit as Omit<RateLimitOptions, 'preAuth'>),
      ...audit,
      ...realm,
    })
  }
  // Last, so it sees the final payload of every response (and checks request bodies).
  await fastify.register(allowlistPlugin, {
    ...resolved.response,
    ...(resolved.requireBody === undefined ? {} : { requireBody: resolved.requireBody }),
    ...audit,
    ...realm,
  })
  if (metadata !== undefined) serveResourceMetadata(fastify, metadata)
  if (resolved.openapi !== false) documentGuards(fastify, resolved.openapi ?? {})
}

/**
 * The Portcullis plugin for Fastify: verified tokens, per-route guards and a deny-by-default
 * route inventory, registered in the right order with one options object.
 *
 * Register it with `await` before declaring routes.
 *
 * @example
 * ```ts
 * await app.register(portcullis, {
 *   tokens: { issuers: [{ issuer: 'https://auth.internal', audience: 'videos-api',
 *                         jwksUri: 'https://auth.internal/.well-known/jwks.json', algorithms: ['ES256'] }] },
 * })
 * app.get('/healthz', { config: { guard: { public: 'liveness probe' } } }, () => ({ ok: true }))
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/fastify.md
 */
export const portcullisPlugin = fp(portcullis, {
  fastify: '5.x',
  name: '@portcullis/fastify',
})
