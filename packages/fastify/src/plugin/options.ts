import { PortcullisConfigError, type AuditSink, type RouteGuard } from '@portcullis/core'
import { invalidOptionsError } from '@portcullis/core/internal'
import type { RateLimitOptions } from '@portcullis/rate-limit'
import type { TokensOptions } from '@portcullis/tokens'
import { z } from 'zod'

/**
 * Options of the Portcullis Fastify plugin.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/fastify.md
 */
export interface PortcullisOptions {
  /** Token verification: issuers, algorithms, keys, cache (see `@portcullis/tokens`). Required. */
  tokens: TokensOptions
  /**
   * Audit sink for every decision; default: the request's logger (`info` allow, `warn` deny).
   * Must not throw and should be quick: it runs on the request path.
   */
  audit?: AuditSink
  /**
   * `'fail'` (default): `app.ready()` rejects when a route has no guard. `'deny'`: start, log
   * the list, and refuse those routes with 403 at run time (for gradual adoption).
   */
  unguardedRoutes?: 'fail' | 'deny'
  /**
   * `'unauthorized'` (default): anonymous requests to unknown URLs get 401, so the route map
   * cannot be enumerated. `'not-found'`: a 404 to everyone. The guard answers the 404 itself
   * (problem+json): a custom not-found handler does not run for unknown URLs.
   */
  unknownRoutes?: 'unauthorized' | 'not-found'
  /** Named guards routes can build on with `extends: '<name>'` (tighten only). */
  policies?: Record<string, RouteGuard>
  /**
   * Report-only rollout: rules are evaluated and denials reported (audit events) but requests
   * served; `guard.reportOnly` overrides it per route. Token failures stay enforced unless this
   * is `'including-tokens'`. The inventory marks report-only routes. Default `false`.
   */
  reportOnly?: boolean | 'including-tokens'
  /**
   * Rate limits keyed by the verified principal, per route template; `guard.rateLimit` overrides
   * per route. `preAuth` throttles failed authentications per IP before any signature work.
   * Without this option no default limit applies (routes may still not declare
   * `guard.rateLimit`: that fails startup). See `@portcullis/rate-limit`.
   */
  rateLimit?: RateLimitOptions
  /**
   * Response allowlisting (`@portcullis/allowlist`): `requireResponse` (default `true`: every
   * route declares `guard.response` or startup fails; `false` to adopt gradually, flagged in the
   * inventory) and `maxBodyBytes` (largest serialized body parsed to project, default 1 MiB).
   */
  response?: { requireResponse?: boolean; maxBodyBytes?: number }
  /**
   * `true`: every guarded route that accepts a body (POST, PUT, PATCH) must declare
   * `guard.body` (the fields a request body may write, or `{ passthrough: '<reason>' }`) or
   * `app.ready()` fails with `PCL_INVALID_GUARD`, naming every such route at once. Default
   * `false`: they start, and the inventory and `portcullis audit` flag each of them.
   */
  requireBody?: boolean
  /**
   * Every scope the application uses: a guard's `scopes` or a response `byScope` naming any
   * other scope fails startup (a misspelled scope would lock everyone out, or show fields to
   * nobody). The run-time counterpart of the `KnownScopes` type.
   */
  knownScopes?: readonly string[]
  /**
   * How long an async `guard.check` may take: past it the request is refused (503
   * `PCL_CHECK_UNAVAILABLE`) rather than held. Milliseconds or a duration string; default 1 s.
   * (`tokens.callbackTimeout` bounds `isRevoked` the same way.)
   */
  callbackTimeout?: number | string
}

const schema = z
  .object({
    tokens: z.record(z.string(), z.unknown(), { error: 'is required (an object)' }),
    audit: z.custom<AuditSink>((v) => typeof v === 'function', 'must be a function').optional(),
    unguardedRoutes: z.enum(['fail', 'deny']).optional(),
    unknownRoutes: z.enum(['unauthorized', 'not-found']).optional(),
    policies: z.record(z.string(), z.unknown()).optional(),
    reportOnly: z.union([z.boolean(), z.literal('including-tokens')]).optional(),
    rateLimit: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
    response: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
    requireBody: z.boolean({ error: 'must be a boolean' }).optional(),
    knownScopes: z.array(z.string()).optional(),
    callbackTimeout: z.union([z.number(), z.string()]).optional(),
  })
  .strict()

/** Validates the top level of the options; `tokens` is validated by `@portcullis/tokens`. */
export function resolveOptions(options: unknown): PortcullisOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new PortcullisConfigError('PCL_INVALID_OPTIONS', 'portcullis options must be an object')
  }
  const parsed = schema.safeParse(options)
  if (!parsed.success) {
    throw invalidOptionsError(parsed.error.issues, '', parsed.error)
  }
  return options as PortcullisOptions
}
