import type { DeclaredGuard, Duration, GuardRequest, Principal, RouteGuard } from '@portcullis/core'
import type { PortcullisApi } from '../inventory/index.js'

/**
 * The scopes an application knows. Empty by default (any string is a scope); declare yours once
 * and a misspelled scope in any guard fails to compile:
 *
 * @example
 * ```ts
 * declare module '@portcullis/policy' {
 *   interface KnownScopes { 'videos:read': true; 'videos:write': true }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface KnownScopes {}

/** A scope string: any string, or one of {@link KnownScopes} once the application declares them. */
export type Scope = [keyof KnownScopes] extends [never]
  ? string
  : Extract<keyof KnownScopes, string>

/**
 * A claim rule of `guard.claims`. `{ param }` and `{ query }` compare the claim with a URL value,
 * as a string: a number claim matches only with `numeric: true` (by its decimal form).
 */
export type ClaimMatcher =
  | string
  | number
  | boolean
  | { oneOf: readonly (string | number | boolean)[] }
  | { contains: string | number | boolean }
  | { param: string; numeric?: true }
  | { query: string; numeric?: true }

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What this route requires. Every route declares one: `{ public: '<reason>' }` or at least
     * one requirement; a route without it fails `app.ready()` (`PCL_UNGUARDED_ROUTE`). Keys
     * every route must declare (`response` with `@portcullis/allowlist`) are required here.
     */
    guard?: DeclaredGuard
  }
  interface FastifyInstance {
    /** Portcullis: the route inventory and, later, other runtime views. */
    portcullis: PortcullisApi
  }
  interface RegisterOptions {
    /**
     * Guard defaults for every route of this plugin (and its children): routes inherit them and
     * may tighten them, never loosen them. Cannot be `public`.
     */
    guard?: Omit<RouteGuard, 'public'>
  }
}

declare module '@portcullis/core' {
  interface GuardOptions {
    /**
     * `'unauthorized'` (default): anonymous requests to unknown URLs get 401, so the route map
     * cannot be enumerated. `'not-found'`: a 404 to everyone. The guard answers the 404 itself
     * (problem+json): no not-found handler of the application runs for unknown URLs.
     */
    unknownRoutes?: 'unauthorized' | 'not-found'
    /** Named guards routes can build on with `extends: '<name>'` (tighten only). */
    policies?: Record<string, RouteGuard>
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
    /**
     * Field classes for the exposure register (`app.portcullis.routes()`, `portcullis audit`):
     * a field path (`'owner.email'`, `'items[].watchedAt'`) or a field name (`'uploadIp'`, at
     * any depth) mapped to a class (`'pii'`, `'internal'`, or your own). Routes add their own
     * in `guard.response.classify`. The audit fails when a `pii` field can leave a public route
     * or a route that requires no scope and no caller.
     */
    classify?: Readonly<Record<string, string>>
  }
  interface RouteGuard {
    /** Any verified token, nothing more. */
    authenticated?: true
    /**
     * Scopes the token must carry: one scope, a list (all required), or `{ allOf, anyOf }`.
     * Compared exactly (no case or Unicode normalisation). Missing: 403 `insufficient_scope`.
     */
    scopes?: Scope | readonly Scope[] | { allOf?: readonly Scope[]; anyOf?: readonly Scope[] }
    /** Client ids (`principal.clientId`) allowed to call the route. Others: 403. */
    callers?: readonly string[]
    /**
     * Rules on verified claims: equals a value, `{ oneOf }`, `{ contains }` (array claims), or
     * equals a route parameter / query value (`{ param: 'tenantId' }`): the object-level check.
     */
    claims?: Readonly<Record<string, ClaimMatcher>>
    /**
     * Step-up authentication (RFC 9470): the token's `acr` claim must be one of these values.
     * Otherwise 401 `PCL_INSUFFICIENT_AUTHENTICATION` with
     * `WWW-Authenticate: Bearer error="insufficient_user_authentication", acr_values="..."`.
     */
    acr?: readonly string[]
    /**
     * Step-up authentication (RFC 9470): the user authenticated at most this long ago, by the
     * token's `auth_time` (a token without it fails). Seconds or a duration (`'15 minutes'`),
     * from 1 s to 1 year; answered like `acr`, with `max_age` in the challenge.
     */
    maxAuthAge?: Duration
    /** Anything else, run last: only `true` allows; an exception is a 403, never a 500. */
    check?: (principal: Principal, request: GuardRequest) => boolean | Promise<boolean>
    /** Builds on a named policy of the plugin options (and may only tighten it). */
    extends?: string
    /** Report denials without enforcing them, overriding the plugin option either way. */
    reportOnly?: boolean
  }
}
