import type { ZodObject } from 'zod'
import { fieldClassesSchema } from '@portcullis/policy/internal'
import { z } from 'zod'
import { ownerSpecSchema, type OwnerSpec } from './owner-spec.js'
import { isArrayPath, parsePath, STAR } from './path-syntax.js'
import { isZodSchema, zodTypeName } from './schema-shapes.js'

/**
 * A field path in the allowlist syntax:
 *
 * - `id`, `owner.id`: a key, a nested key;
 * - `tags[]`: the elements of an array (scalars); `items[].title`: a key of each element;
 * - `stats.*`: every key of `stats` whose value is a scalar or null (nothing nested);
 * - `[].id`, `[]`: the elements of a top-level array.
 *
 * A path that ends at an object or array keeps it empty: `owner` alone yields `owner: {}`;
 * declare `owner.*` or `owner.id` to keep what is inside.
 */
export type FieldPathText = string

/**
 * Caps on how many elements response arrays may carry. Array paths are written in the
 * allowlist syntax and end with `[]`: `'[]'` is the top-level array, `'items[]'` a named one.
 *
 * @example
 * ```ts
 * { default: 100, paths: { 'items[].variants[]': 10 }, byScope: { 'videos:bulk': 1000 } }
 * ```
 */
export interface MaxItemsSpec {
  /** Cap on every array the allowlist reaches that `paths` does not name. */
  default?: number
  /** Caps on named arrays (`'[]'`, `'items[]'`), overriding `default`. */
  paths?: Readonly<Record<string, number>>
  /**
   * Higher caps for principals holding a scope: a number raises `default`, an object raises
   * `default` and named arrays. A principal gets the highest cap among the scopes it holds;
   * a scope never lowers a cap, nor adds one to an array that has none.
   */
  byScope?: Readonly<
    Record<string, number | { default?: number; paths?: Readonly<Record<string, number>> }>
  >
}

/** `guard.response` in its main form: the fields responses may carry. */
export interface AllowlistSpec {
  /**
   * The fields every success response (status below 400) may carry: field paths, or a
   * `z.object()` whose shape (nested objects, arrays of objects, optional and nullable
   * members) is read once as the allowlist. The schema never parses responses.
   */
  allow: readonly FieldPathText[] | ZodObject
  /**
   * Extra fields of success responses, visible only to principals holding the scope
   * (`{ 'videos:read:internal': ['uploadIp', 'moderation.notes'] }`). Each scope must be one
   * the route can grant.
   */
  byScope?: Readonly<Record<string, readonly FieldPathText[]>>
  /**
   * A different allowlist per status code (`'200'`, `'404'`) or class (`'2xx'`, `'4xx'`,
   * `'5xx'`); an exact code beats its class. Statuses without an entry use `allow` below 400
   * and the problem+json fields (`type`, `title`, `status`, `code`, `detail`, `instance`)
   * from 400 on. `byScope` fields apply to the lists of statuses below 400 only.
   */
  byStatus?: Readonly<Record<string, readonly FieldPathText[]>>
  /**
   * A cap on response arrays: a number caps every array the allowlist reaches (the
   * top-level array and nested ones), or {@link MaxItemsSpec} per array and per scope. A
   * response over a cap is refused (`PCL_TOO_MANY_ITEMS`, 500), whatever the mode.
   */
  maxItems?: number | MaxItemsSpec
  /**
   * `'strip'` (default): undeclared fields are dropped. `'reject'`: a success response
   * carrying an undeclared field is refused (`PCL_RESPONSE_REJECTED`, 500) and its paths are
   * named in the error message, so leaks are caught in staging. Error bodies (400 and above)
   * are always stripped: refusing an error response would only hide its status.
   */
  mode?: 'strip' | 'reject'
  /**
   * Every object at a path must belong to the principal: `{ path: 'items[].ownerId', claim:
   * 'sub' }` (the field must be in `allow`), `{ path: 'items[]', check }`, or a function for the
   * elements of a top-level array. Checked on what leaves, after the projection and `maxItems`,
   * on every status whose list keeps the array. An object that does not belong is dropped with
   * an audit event (`mode: 'strip'`, default) or the response is refused (`mode: 'reject'`, 500
   * `PCL_RESPONSE_REJECTED`). Independent of the allowlist's own `mode`. See {@link OwnerSpec}.
   */
  owner?: OwnerSpec
  /**
   * Field classes of this route's responses for the exposure register, over the application's
   * `classify` option: a field path (`'owner.email'`) or a field name (`'uploadIp'`) mapped to
   * its class (`'pii'`, `'internal'`). Changes nothing in the projection.
   */
  classify?: Readonly<Record<string, string>>
}

/**
 * What a route declares as `guard.response`: an allowlist, `'schema'` to derive it from the
 * route's own response schema (Fastify `schema.response`, JSON schema or zod), or
 * `{ passthrough: '<reason>' }` for success bodies the guard does not inspect (error bodies
 * are still reduced to problem+json fields).
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/allowlist.md
 */
export type ResponseSpec = AllowlistSpec | 'schema' | { passthrough: string }

// RFC 6749 §3.3 scope-token, as the policy package holds guards to it.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/u
const STATUS_KEY = /^(?:[1-5][0-9][0-9]|[1-5]xx)$/u

const fieldPath = z.string({ error: 'must be a field path string' }).superRefine((text, ctx) => {
  const parsed = parsePath(text)
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: `'${text}' ${parsed.reason}` })
})

/** A list of field paths, each checked against the path syntax (shared by `guard.body`). */
export const pathList = z.array(fieldPath, { error: 'must be a list of field paths' }).max(1000, {
  error: 'must list at most 1000 paths',
})

const zodObject = z.custom<ZodObject>(
  (value) => isZodSchema(value) && zodTypeName(value) === 'object',
)

/** Field paths or a `z.object()` whose shape lists them (shared by `guard.body.writable`). */
export const allow = z.union([pathList, zodObject], {
  error: (issue) =>
    isZodSchema(issue.input)
      ? `must be a z.object() schema (its shape is the allowlist), not a zod ${zodTypeName(issue.input)}`
      : 'must be a list of field paths or a z.object() schema',
})

// Keys are checked here rather than by z.record's key schema, whose issue ("Invalid key in
// record") would not say what is wrong with the key.
/** A record whose keys `checkKey` vets, naming the key in its issue. */
export function recordOf<T extends z.ZodType>(
  value: T,
  checkKey: (key: string) => string | null,
  error: string,
) {
  return z.record(z.string(), value, { error }).superRefine((record, ctx) => {
    for (const key of Object.keys(record)) {
      const problem = checkKey(key)
      if (problem !== null) ctx.addIssue({ code: 'custom', path: [key], message: problem })
    }
  })
}

/** The issue of a key that is not an RFC 6749 §3.3 scope token, or `null`. */
export function scopeKey(key: string): string | null {
  return SCOPE_TOKEN.test(key)
    ? null
    : 'must be a scope token: printable ASCII without spaces, quotes or backslashes'
}

function statusKey(key: string): string | null {
  return STATUS_KEY.test(key) ? null : "must be a status code ('404') or class ('2xx'..'5xx')"
}

function arrayPathKey(key: string): string | null {
  const parsed = parsePath(key)
  if (!parsed.ok) return `'${key}' ${parsed.reason}`
  if (!isArrayPath(parsed.path) || parsed.path.includes(STAR)) {
    return `'${key}' must name an array: a path ending with '[]' ('[]' for the top-level array)`
  }
  return null
}

const cap = z
  .number({ error: 'must be a number' })
  .int({ error: 'must be an integer' })
  .min(1, { error: 'must be at least 1' })
  .max(Number.MAX_SAFE_INTEGER, { error: 'is too large' })

const capsByPath = recordOf(cap, arrayPathKey, "must map array paths ('items[]') to caps")

const scopedCaps = z.union(
  [cap, z.object({ default: cap.optional(), paths: capsByPath.optional() }).strict()],
  { error: 'must be a cap or { default, paths }' },
)

const maxItems = z.union(
  [
    cap,
    z
      .object({
        default: cap.optional(),
        paths: capsByPath.optional(),
        byScope: recordOf(scopedCaps, scopeKey, 'must map scopes to caps').optional(),
      })
      .strict(),
  ],
  { error: 'must be a cap (a positive integer) or { default, paths, byScope }' },
)

const allowlistSpec = z
  .object({
    allow,
    byScope: recordOf(
      pathList.min(1, { error: 'must list at least one path' }),
      scopeKey,
      'must map scopes to lists of field paths',
    ).optional(),
    byStatus: recordOf(
      pathList,
      statusKey,
      'must map status codes or classes to lists of field paths',
    ).optional(),
    maxItems: maxItems.optional(),
    mode: z.enum(['strip', 'reject'], { error: "must be 'strip' or 'reject'" }).optional(),
    owner: ownerSpecSchema.optional(),
    classify: fieldClassesSchema.optional(),
  })
  .strict()

const passthrough = z
  .object({
    passthrough: z
      .string({ error: 'must be a string giving the reason responses are not inspected' })
      .trim()
      .min(1, { error: 'must be a non-empty reason (it shows in the route inventory)' })
      .max(500, { error: 'must be at most 500 characters' }),
  })
  .strict()

/**
 * The zod schema of `guard.response`: the shape and the path syntax. `compileAllowlist` runs
 * it, then checks what needs the route (granted scopes, the response schema, caps that name
 * arrays the allowlist reaches).
 */
export const responseSpecSchema: z.ZodType<ResponseSpec> = z.union(
  [allowlistSpec, z.literal('schema'), passthrough],
  {
    error: "must be { allow: [...] }, 'schema', or { passthrough: '<reason>' }",
  },
) as z.ZodType<ResponseSpec>
