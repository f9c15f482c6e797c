import type { ResponseSpec } from '../allowlist/index.js'

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
  interface RouteGuard {
    /**
     * Which fields this route's responses may carry: `{ allow: ['id', 'owner.id', 'tags[]'] }`
     * (plus `byScope`, `byStatus`, `maxItems`, `mode`), `'schema'` to reuse the route's response
     * schema, or `{ passthrough: '<reason>' }` for a body the guard cannot inspect. Required on
     * every route unless `AllowlistTypes` says `requireResponse: false`.
     */
    response?: ResponseSpec
  }
  interface RequiredGuardKeys {
    response: ResponseRequired
  }
}
