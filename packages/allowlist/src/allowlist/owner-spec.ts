import type { Principal } from '@portcullis/core'
import { z } from 'zod'
import {
  FORBIDDEN_KEYS,
  formatPath,
  ITEMS,
  parsePath,
  STAR,
  type FieldPath,
} from './path-syntax.js'

/**
 * Says whether one returned object belongs to the principal. It receives the object as it
 * leaves (after the projection: only allowlisted fields) and must answer synchronously; anything
 * but `true` (a Promise included) means "not the principal's", and a throw refuses the response.
 */
export type OwnerCheck = (item: unknown, principal: Principal) => boolean

/**
 * `guard.response.owner`: every object at a path of the response must belong to the principal
 * (object-level authorization for lists, the check a handler forgets).
 *
 * - `{ path: 'items[].ownerId', claim: 'sub' }`: the objects are the elements of the last array
 *   of `path` (`items[]`), and each belongs to the principal when its field (`ownerId`, the rest
 *   of the path; nested keys allowed: `items[].owner.id`) is the same string or number as the
 *   claim (`sub`), compared strictly: `'42'` is not `42`.
 * - `{ path: 'items[]', check: (item, principal) => boolean }`: a function decides.
 * - A function alone: `{ path: '[]', check }`, the elements of a top-level array.
 *
 * `mode: 'strip'` (default) drops the objects that do not belong (an audit event names the route
 * and the count); `'reject'` refuses the whole response (500 `PCL_RESPONSE_REJECTED`).
 *
 * @example
 * ```ts
 * response: {
 *   allow: ['items[].id', 'items[].ownerId', 'items[].watchedAt'],
 *   owner: { path: 'items[].ownerId', claim: 'sub' },
 * }
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/allowlist.md#ownership-of-returned-objects
 */
export type OwnerSpec =
  | {
      /** The owner field of each object (`items[].ownerId`): it must go through an array. */
      path: string
      /** The principal's claim the field must equal (`sub`, `tenant_id`). */
      claim: string
      mode?: 'strip' | 'reject'
    }
  | {
      /** The array whose elements are checked (`items[]`, `[]`). */
      path: string
      check: OwnerCheck
      mode?: 'strip' | 'reject'
    }
  | OwnerCheck

/** An owner rule validated and parsed. */
export interface NormalizedOwner {
  /** The path of the array whose elements are checked, `[]` included (`items[]`). */
  readonly array: FieldPath
  /** The owner field inside each element (`['ownerId']`); empty with `check`. */
  readonly field: readonly string[]
  readonly claim: string | null
  readonly check: OwnerCheck | null
  readonly mode: 'strip' | 'reject'
  /** The field that declared it, for startup errors: `guard.response.owner.path`. */
  readonly at: string
}

const MAX_CLAIM_LENGTH = 200

const mode = z.enum(['strip', 'reject'], { error: "must be 'strip' or 'reject'" }).optional()

const ownerPath = z.string({ error: 'must be a field path string' }).superRefine((text, ctx) => {
  const parsed = parsePath(text)
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: `'${text}' ${parsed.reason}` })
    return
  }
  const last = parsed.path.lastIndexOf(ITEMS)
  if (last < 0) {
    ctx.addIssue({
      code: 'custom',
      message: `'${text}' must go through an array ('items[].ownerId', '[].ownerId'): the objects checked are the elements of its last array; a single object is checked before the handler (guard.claims with { param }, or guard.check)`,
    })
  }
  if (parsed.path.includes(STAR)) {
    ctx.addIssue({ code: 'custom', message: `'${text}' must not contain '*': name one field` })
  }
})

const claimName = z
  .string({ error: 'must be a claim name string' })
  .min(1, { error: 'must be a non-empty claim name' })
  .max(MAX_CLAIM_LENGTH, { error: `must be at most ${MAX_CLAIM_LENGTH} characters` })
  .superRefine((name, ctx) => {
    if (FORBIDDEN_KEYS.has(name)) {
      ctx.addIssue({ code: 'custom', message: `'${name}' is not a claim (prototype key)` })
    } else if (/[\s\p{Cc}]/u.test(name)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a claim name without whitespace or control characters',
      })
    }
  })

const check = z.custom<OwnerCheck>((value) => typeof value === 'function', {
  error: 'must be a function (item, principal) => boolean',
})

/** The zod schema of `guard.response.owner`. */
export const ownerSpecSchema: z.ZodType<OwnerSpec> = z.union(
  [
    check,
    z.object({ path: ownerPath, claim: claimName, mode }).strict(),
    z.object({ path: ownerPath, check, mode }).strict(),
  ],
  {
    error:
      "must be { path: 'items[].ownerId', claim: 'sub' }, { path: 'items[]', check }, or a function (item, principal) => boolean",
  },
) as z.ZodType<OwnerSpec>

/**
 * Parses a validated owner rule. Throws the message of a startup error (with the field it is
 * about) for what the schema alone cannot see: a `check` path that does not end at an array, a
 * `claim` path that ends at one.
 */
export function normalizeOwner(
  spec: OwnerSpec,
  prefix: string,
): NormalizedOwner | { readonly field: string; readonly message: string } {
  if (typeof spec === 'function') {
    return { array: [ITEMS], field: [], claim: null, check: spec, mode: 'strip', at: prefix }
  }
  const at = `${prefix}.path`
  const parsed = parsePath(spec.path)
  if (!parsed.ok) throw new TypeError(`unreachable: '${spec.path}' ${parsed.reason}`)
  const path = parsed.path
  const last = path.lastIndexOf(ITEMS)
  const array = path.slice(0, last + 1)
  const field = path.slice(last + 1) as string[]
  const mode = spec.mode ?? 'strip'
  if ('check' in spec) {
    if (field.length > 0) {
      return {
        field: at,
        message: `'${spec.path}' must end at the array whose elements the check receives ('${formatPath(array)}')`,
      }
    }
    return { array, field, claim: null, check: spec.check, mode, at }
  }
  if (field.length === 0) {
    return {
      field: at,
      message: `'${spec.path}' must name the owner field of each element ('${spec.path}.ownerId')`,
    }
  }
  return { array, field, claim: spec.claim, check: null, mode, at }
}
