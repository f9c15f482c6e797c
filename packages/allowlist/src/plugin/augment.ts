import type { ResponseSpec } from '../allowlist/index.js'

declare module '@portcullis/core' {
  interface RouteGuard {
    /**
     * Which fields this route's responses may carry: `{ allow: ['id', 'owner.id', 'tags[]'] }`
     * (plus `byScope`, `byStatus`, `maxItems`, `mode`), `'schema'` to reuse the route's response
     * schema, or `{ passthrough: '<reason>' }` for a body the guard cannot inspect.
     */
    response?: ResponseSpec
  }
}
