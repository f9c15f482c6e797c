import type { AuditSink } from './audit.js'

/**
 * What a route requires, declared as `config.guard` on the route (Fastify) or passed to the
 * Express guard. Each package adds the part it enforces through declaration merging
 * (`scopes`, `callers` from `@portcullis/policy`, `rateLimit`, `response`, ...).
 *
 * A route is public only with `{ public: '<reason>' }`; an empty guard `{}` is a startup error.
 *
 * @example
 * ```ts
 * app.get('/healthz', { config: { guard: { public: 'liveness probe' } } }, () => ({ ok: true }))
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/route-guards.md
 */
export interface RouteGuard {
  /** Why this route needs no token (shown in the inventory). Must be a non-empty reason. */
  public?: string
}

/**
 * The request as a route guard's `check` sees it: what every adapter provides. Fastify's and
 * Express's requests both satisfy it; cast to your framework's type for more.
 */
export interface GuardRequest {
  readonly method: string
  readonly url: string
  /** Route parameters (`:id`). */
  readonly params: unknown
  /** Parsed query string. */
  readonly query: unknown
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

/**
 * The options of a whole Portcullis guard, the same for every adapter (`@portcullis/fastify`'s
 * plugin options, `@portcullis/express`'s `createGuard`): each package adds the options of the
 * part it enforces through declaration merging (`tokens`, `rateLimit`, `response`, ...), as for
 * {@link RouteGuard}. Validated once, at registration: a bad one throws `PCL_INVALID_OPTIONS`
 * naming the field.
 */
export interface GuardOptions {
  /**
   * Audit sink for every decision; default: the adapter's logger (`info` allow, `warn` deny).
   * Must not throw and should be quick: it runs on the request path.
   */
  audit?: AuditSink
  /**
   * Report-only rollout: rules are evaluated and denials reported (audit events) but requests
   * served; `guard.reportOnly` overrides it per route. Token failures stay enforced unless this
   * is `'including-tokens'`. The inventory marks report-only routes. Default `false`.
   */
  reportOnly?: boolean | 'including-tokens'
}
