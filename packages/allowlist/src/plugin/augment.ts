import type { ResponseSpec } from '../allowlist/index.js'
import type { BodySpec } from '../body/index.js'

declare module '@portcullis/core' {
  interface RouteGuard {
    /**
     * Which fields this route's responses may carry: `{ allow: ['id', 'owner.id', 'tags[]'] }`
     * (plus `byScope`, `byStatus`, `maxItems`, `mode`), `'schema'` to reuse the route's response
     * schema, or `{ passthrough: '<reason>' }` for a body the guard cannot inspect.
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
}
