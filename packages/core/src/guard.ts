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
