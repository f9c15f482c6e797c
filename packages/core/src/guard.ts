import type { AuditSink } from './audit.js'
import type { TelemetryOptions } from './telemetry/index.js'

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
 * The guard keys every route must declare, known at compile time. A package that refuses to
 * start when a route leaves a key out adds it here through declaration merging, with `true`:
 * `@portcullis/allowlist` adds `response` (every route declares its allowlist), unless the
 * application relaxes it (`AllowlistTypes` of `@portcullis/allowlist`).
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/allowlist.md
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RequiredGuardKeys {}

type RequiredGuardKey = Extract<
  {
    [K in keyof RequiredGuardKeys]: RequiredGuardKeys[K] extends true ? K : never
  }[keyof RequiredGuardKeys],
  keyof RouteGuard
>

/**
 * The guard a route declares (`config.guard` on Fastify, `guard(...)` on Express): a
 * {@link RouteGuard} in which the keys of {@link RequiredGuardKeys} are required, so a route
 * that would fail startup for leaving one out fails to compile first. Named policies and prefix
 * defaults are plain `RouteGuard`s.
 *
 * @example
 * ```ts
 * const guard: DeclaredGuard = { scopes: ['videos:read'], response: { allow: ['id'] } }
 * ```
 */
export type DeclaredGuard = Omit<RouteGuard, RequiredGuardKey> &
  Required<Pick<RouteGuard, RequiredGuardKey>>

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
  /**
   * OpenTelemetry metrics and spans of every decision, through `@opentelemetry/api` (no SDK
   * dependency): on by default, no-ops until the app registers an SDK. Never a token, claim value,
   * subject or field value in an attribute unless `attributes` opts in.
   */
  telemetry?: TelemetryOptions
}
