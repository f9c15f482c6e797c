import type { AuditSink, RouteGuard } from '@portcullis/core'
import type { RateLimitOptions } from '@portcullis/rate-limit'
import type { TokensOptions } from '@portcullis/tokens'
import type { GuardLogger } from '../lib/logger.js'

/**
 * Options of {@link createGuard}. The names, values and defaults are those of
 * `@portcullis/fastify` (validated by the same schemas), except that `unguardedRoutes` has no
 * Express counterpart (`seal` always refuses an unguarded route) and `logger` is added, Express
 * having no logger of its own.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/express.md#options
 */
export interface PortcullisExpressOptions {
  /** Required: the trusted issuers and how tokens are verified and cached. */
  tokens: TokensOptions
  /** Called with every decision instead of logging it. Must not throw; runs on the request path. */
  audit?: AuditSink
  /**
   * A pino-style logger (`pino()`, or `pino-http`'s) for the guard's lines: decisions when there
   * is no `audit` sink (allow at `info`, deny at `warn`), outages and unexpected errors. Default:
   * the console, warnings and errors only.
   */
  logger?: GuardLogger
  /**
   * Default `'unauthorized'`: the handler `seal` adds for URLs no route serves answers 401 to
   * anonymous requests and a problem+json 404 to the others. `'not-found'`: 404 to everyone.
   */
  unknownRoutes?: 'unauthorized' | 'not-found'
  /** Guards `guard({ extends: '<name>' })` builds on, and may only tighten. */
  policies?: Record<string, RouteGuard>
  /**
   * `true`: denials are reported (audit events, `reportOnly: true`) and the requests served;
   * `'including-tokens'` also serves requests without a valid token. Default `false`.
   */
  reportOnly?: boolean | 'including-tokens'
  /**
   * The default limit of every guard, its key, its store (in memory, or `redis` through
   * `rate-limit-redis`) and `preAuth`. Without it no limit applies, and `guard({ rateLimit })`
   * is refused.
   */
  rateLimit?: RateLimitOptions
  /** `requireResponse` (default `true`) and `maxBodyBytes` (default 1 MiB) of the allowlists. */
  response?: { requireResponse?: boolean; maxBodyBytes?: number }
  /**
   * `true`: every guard on a route that accepts a body (POST, PUT, PATCH, `app.all`) must declare
   * `guard.body` or `seal` throws `PCL_INVALID_GUARD`, naming every such route at once. Default
   * `false`: they are sealed, and `guard.routes()` flags each of them.
   */
  requireBody?: boolean
  /** The application's scopes: a guard naming any other one is refused. */
  knownScopes?: readonly string[]
  /**
   * How long an async `guard.check` may take: past it the request is refused (503
   * `PCL_CHECK_UNAVAILABLE`) rather than held. Milliseconds or a duration string; default 1 s.
   * (`tokens.callbackTimeout` bounds `isRevoked` the same way.)
   */
  callbackTimeout?: number | string
}
