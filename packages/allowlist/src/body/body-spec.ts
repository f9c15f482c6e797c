import type { ZodObject } from 'zod'
import { z } from 'zod'
import {
  allow,
  pathList,
  recordOf,
  scopeKey,
  type FieldPathText,
} from '../allowlist/response-spec.js'

/**
 * `guard.body` in its main form: the fields a request body may write. The twin of the response
 * allowlist (OWASP API3:2023, mass assignment), in the same path syntax.
 *
 * @example
 * ```ts
 * body: {
 *   writable: ['title', 'description', 'tags[]', 'chapters[].title'],
 *   byScope: { 'videos:admin': ['visibility', 'ownerId'] },
 *   unknown: 'reject',
 *   maxBytes: 65536,
 * }
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/body.md
 */
export interface BodyRule {
  /**
   * The fields every caller of the route may write: field paths (`title`, `owner.id`, `tags[]`,
   * `chapters[].title`, `metadata.*`, `[].id` for a top-level array), or a `z.object()` whose
   * shape is read once as the list. A path that ends at a key lets the body write a scalar,
   * `null`, or an empty object or array there; nested values need their own paths.
   */
  writable: readonly FieldPathText[] | ZodObject
  /**
   * Extra writable fields for principals holding the scope
   * (`{ 'videos:admin': ['visibility', 'ownerId'] }`). A field some scope makes writable and the
   * principal's scopes do not is refused with 403 `PCL_FIELD_NOT_WRITABLE`, whatever `unknown`
   * says. Each scope must be one the route can grant.
   */
  byScope?: Readonly<Record<string, readonly FieldPathText[]>>
  /**
   * A field no rule names at all: `'reject'` (default) refuses the request with 400
   * `PCL_UNKNOWN_FIELD`; `'strip'` removes it before validation and the handler. `__proto__`,
   * `constructor` and `prototype` keys are refused either way.
   */
  unknown?: 'reject' | 'strip'
  /**
   * The largest body (bytes) the route accepts: a larger `Content-Length` is refused with 413
   * `PCL_BODY_TOO_LARGE` before the body is read, a larger body without one (chunked) once it
   * is counted. No default: the framework's own limit (`bodyLimit`, the body parser's `limit`)
   * applies.
   */
  maxBytes?: number
}

/**
 * What a route declares as `guard.body`: the fields a request body may write ({@link BodyRule}),
 * or `{ passthrough: '<reason>' }` for a body the guard does not inspect (a file upload, a
 * proxied payload). The reason shows in the route inventory.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/body.md
 */
export type BodySpec = BodyRule | { passthrough: string }

const MAX_BYTES = 1024 * 1024 * 1024

const bodyRule = z
  .object({
    writable: allow,
    byScope: recordOf(
      pathList.min(1, { error: 'must list at least one path' }),
      scopeKey,
      'must map scopes to lists of field paths',
    ).optional(),
    unknown: z.enum(['reject', 'strip'], { error: "must be 'reject' or 'strip'" }).optional(),
    maxBytes: z
      .number({ error: 'must be a number of bytes' })
      .int({ error: 'must be an integer' })
      .min(1, { error: 'must be at least 1' })
      .max(MAX_BYTES, { error: 'must be at most 1 GiB' })
      .optional(),
  })
  .strict()

const passthrough = z
  .object({
    passthrough: z
      .string({ error: 'must be a string giving the reason request bodies are not inspected' })
      .trim()
      .min(1, { error: 'must be a non-empty reason (it shows in the route inventory)' })
      .max(500, { error: 'must be at most 500 characters' }),
  })
  .strict()

/**
 * The zod schema of `guard.body`: its shape and the path syntax. `compileBodyRule` runs it, then
 * checks what needs the route (the scopes it can grant).
 */
export const bodySpecSchema: z.ZodType<BodySpec> = z.union([bodyRule, passthrough], {
  error: "must be { writable: [...] } or { passthrough: '<reason>' }",
}) as z.ZodType<BodySpec>
