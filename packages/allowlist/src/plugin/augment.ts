import type { ResponseSpec } from '../allowlist/index.js'
import type { BodySpec } from '../body/index.js'

/**
 * Compile-time settings of the allowlist. Empty by default: every route's guard must declare
 * `response`, as the plugin's `requireResponse` (default `true`) requires at startup. An
 * application that sets `requireResponse: false` to adopt allowlists gradually declares it here
 * too, once, and `response` becomes optional in its guards:
 *
 * @example
 * ```ts
 * declare module '@portcullis/allowlist' {
 *   interface AllowlistTypes { requireResponse: false }
 * }
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/allowlist.md
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AllowlistTypes {}

type ResponseRequired = AllowlistTypes extends { requireResponse: false } ? false : true

declare module '@portcullis/core' {
  interface GuardOptions {
    /**
     * Response allowlisting: `requireResponse` (default `true`: every route declares
     * `guard.response` or startup fails; `false` to adopt gradually, flagged in the inventory)
     * and `maxBodyBytes` (largest serialized body parsed to project, default 1 MiB).
     */
    response?: { requireResponse?: boolean; maxBodyBytes?: number }
    /**
     * `true`: every route that accepts a body (POST, PUT, PATCH) must declare `guard.body`, or
     * startup fails with `PCL_INVALID_GUARD` naming every such route at once. Default `false`:
     * they start, and the inventory flags each of them.
     */
    requireBody?: boolean
  }
  interface RouteGuard {
    /**
     * Which fields this route's responses may carry: `{ allow: ['id', 'owner.id', 'tags[]'] }`
     * (plus `byScope`, `byStatus`, `maxItems`, `mode`), `'schema'` to reuse the route's response
     * schema, or `{ passthrough: '<reason>' }` for a body the guard cannot inspect. Required on
     * every route unless `AllowlistTypes` says `requireResponse: false`.
     */
    response?: ResponseSpec
    /**
     * Which fields a request body may write (mass assignment): `{ writable: ['title', 'tags[]'] }`
     * (plus `byScope`, `unknown`, `maxBytes`), or `{ passthrough: '<reason>' }` for a body the
     * guard does not inspect. Checked after the body is parsed, before validation and the
     * handler.
     */
    body?: BodySpec
  }
  interface RequiredGuardKeys {
    response: ResponseRequired
  }
}
