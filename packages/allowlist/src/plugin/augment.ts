import type { ResponseSpec } from '../allowlist/index.js'

declare module '@portcullis/core' {
  interface GuardOptions {
    /**
     * Response allowlisting: `requireResponse` (default `true`: every route declares
     * `guard.response` or startup fails; `false` to adopt gradually, flagged in the inventory)
     * and `maxBodyBytes` (largest serialized body parsed to project, default 1 MiB).
     */
    response?: { requireResponse?: boolean; maxBodyBytes?: number }
  }
  interface RouteGuard {
    /**
     * Which fields this route's responses may carry: `{ allow: ['id', 'owner.id', 'tags[]'] }`
     * (plus `byScope`, `byStatus`, `maxItems`, `mode`), `'schema'` to reuse the route's response
     * schema, or `{ passthrough: '<reason>' }` for a body the guard cannot inspect.
     */
    response?: ResponseSpec
  }
}
