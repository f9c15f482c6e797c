import { AuthorizationError, RequestError, type PortcullisError } from '@portcullis/core'
import { specError, zodSpecError, type SpecSite } from '../allowlist/normalize-spec.js'
import { parsePath, type FieldPath } from '../allowlist/path-syntax.js'
import { isZodSchema, ShapeError, zodPaths } from '../allowlist/schema-shapes.js'
import { countPaths } from '../allowlist/trie.js'
import { bodySpecSchema, type BodyRule } from './body-spec.js'
import { compileBodyTrie, EVERYONE, type BodyNode, type Grants } from './body-trie.js'
import { checkValue, describeValue, findings, type BodyFindings } from './check-body.js'

/** Options of {@link compileBodyRule}: what it needs to know about the route. */
export interface CompileBodyRuleOptions {
  /** `METHOD /url`, named in startup errors. */
  route?: string | undefined
  /**
   * The scopes the route's guard can grant, when known: a `byScope` for any other scope is a
   * startup error, since no caller could ever write its fields.
   */
  scopesGranted?: ReadonlySet<string> | undefined
}

/**
 * The outcome of a body check: the body to hand on (the same object when nothing was removed,
 * a copy without the undeclared fields in `unknown: 'strip'`) and the paths removed; or the
 * refusal, with the field paths it is about (never values).
 */
export type BodyCheck =
  | {
      readonly ok: true
      readonly body: unknown
      /** Paths removed (`unknown: 'strip'`), at most 20; empty when nothing was. */
      readonly removed: readonly string[]
    }
  | {
      readonly ok: false
      /**
       * `PCL_FIELD_NOT_WRITABLE` (403), `PCL_UNKNOWN_FIELD` (400) or `PCL_BODY_UNREADABLE`
       * (415), its `detail` naming the paths.
       */
      readonly error: PortcullisError
      /** The field paths refused, at most 20 (`(body)` for the body itself). */
      readonly fields: readonly string[]
      /**
       * True for what no rollout mode lets through: `__proto__`, `constructor` and `prototype`
       * keys.
       */
      readonly always: boolean
    }

/** A route's request body rule, compiled once. */
export interface CompiledBodyRule {
  /** A one-line summary for the route inventory: `'4 fields (+2 by scope); reject; maxBytes 65536'`. */
  readonly summary: string
  /** `'passthrough'` when bodies are not inspected. */
  readonly mode: 'reject' | 'strip' | 'passthrough'
  /** The largest body accepted, in bytes, or `null` for no limit of the rule's own. */
  readonly maxBytes: number | null
  /**
   * Checks a parsed body against the fields the principal's scopes make writable. Never throws.
   * `undefined`, `null` and an empty string or Buffer (no body) pass; other strings, Buffers,
   * streams and objects that are not plain are refused as unreadable.
   */
  check(body: unknown, scopes: ReadonlySet<string>): BodyCheck
}

const PREFIX = 'guard.body'
// Scope combinations are bit masks over the route's scoped entries; bit 0 is every caller.
const MAX_SCOPED = 30
const NONE: readonly string[] = Object.freeze([])

// Paths were checked by the zod schema; parsing again only turns them into segments.
function parsedList(list: readonly string[]): FieldPath[] {
  return list.map((text) => {
    const result = parsePath(text)
    if (!result.ok) throw new TypeError(`unreachable: '${text}' ${result.reason}`)
    return result.path
  })
}

function list(paths: readonly string[]): string {
  return paths.join(', ')
}

function refusal(
  error: PortcullisError,
  fields: ReadonlySet<string> | readonly string[],
  always = false,
): BodyCheck {
  return { ok: false, error, fields: Object.freeze([...fields]), always }
}

const WHOLE_BODY = ['(body)']

function shapeRefusal(expected: string): BodyCheck {
  return refusal(
    new RequestError('PCL_UNKNOWN_FIELD', {
      detail: `The request body must be ${expected}`,
      message: `The request body is not ${expected}`,
    }),
    WHOLE_BODY,
  )
}

function unreadableRefusal(what: string): BodyCheck {
  return refusal(
    new RequestError('PCL_BODY_UNREADABLE', {
      detail: `The request body holds ${what}, which the guard cannot read`,
    }),
    NONE,
  )
}

/** Turns what a walk found into the check's outcome, the strongest finding first. */
function verdict(f: BodyFindings, checked: unknown, strip: boolean): BodyCheck {
  if (f.forbidden !== null) {
    const fields = [...f.forbidden]
    return refusal(
      new RequestError('PCL_UNKNOWN_FIELD', {
        detail: `The request body holds keys that are never accepted: ${list(fields)}`,
      }),
      fields,
      true,
    )
  }
  if (f.unreadable !== null) return unreadableRefusal(f.unreadable)
  if (f.notWritable !== null) {
    const fields = [...f.notWritable]
    return refusal(
      new AuthorizationError('PCL_FIELD_NOT_WRITABLE', {
        detail: `Fields not writable with this token's scopes: ${list(fields)}`,
      }),
      fields,
    )
  }
  if (f.unknown !== null) {
    const fields = [...f.unknown]
    // The body itself is never removed: the root's reach includes every caller.
    if (!strip) {
      return refusal(
        new RequestError('PCL_UNKNOWN_FIELD', {
          detail: `Fields this route does not accept: ${list(fields)}`,
        }),
        fields,
      )
    }
    return { ok: true, body: checked, removed: Object.freeze(fields) }
  }
  return { ok: true, body: checked, removed: NONE }
}

function isEmpty(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    body === '' ||
    (body instanceof Uint8Array && body.length === 0)
  )
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

/**
 * Validates a route's `guard.body` and compiles it, once, into a check: the writable paths and
 * every scope's are merged into one trie whose nodes say who may write them. Throws a
 * `PortcullisConfigError` (`PCL_INVALID_GUARD`) naming the route and field for bad syntax, a zod
 * schema that is not an object, or a scope the route never grants.
 *
 * @example
 * ```ts
 * const rule = compileBodyRule(
 *   { writable: ['title', 'tags[]'], byScope: { 'videos:admin': ['ownerId'] } },
 *   { route: 'PATCH /v1/videos/:id', scopesGranted: new Set(['videos:write', 'videos:admin']) },
 * )
 * const result = rule.check(JSON.parse(text), principal.scopes)
 * if (!result.ok) reply.code(result.error.status) // 403 PCL_FIELD_NOT_WRITABLE for ownerId
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/body.md
 */
export function compileBodyRule(
  spec: unknown,
  options: CompileBodyRuleOptions = {},
): CompiledBodyRule {
  const site: SpecSite = { route: options.route }
  const result = bodySpecSchema.safeParse(spec)
  if (!result.success) throw zodSpecError(site, result.error, PREFIX)
  const value = result.data
  if ('passthrough' in value) {
    // Trimmed by the schema.
    return Object.freeze({
      summary: `passthrough: ${value.passthrough}`,
      mode: 'passthrough' as const,
      maxBytes: null,
      check: (body: unknown) => ({ ok: true as const, body, removed: NONE }),
    })
  }
  return compileRule(value, site, options.scopesGranted)
}

function writablePaths(rule: BodyRule, site: SpecSite): FieldPath[] {
  if (!isZodSchema(rule.writable)) return parsedList(rule.writable)
  try {
    return zodPaths(rule.writable)
  } catch (err) {
    if (err instanceof ShapeError) {
      throw specError(site, `${PREFIX}.writable`, `${err.at} ${err.message}`)
    }
    throw err
  }
}

function compileRule(
  rule: BodyRule,
  site: SpecSite,
  granted: ReadonlySet<string> | undefined,
): CompiledBodyRule {
  const writable = writablePaths(rule, site)
  const scoped = Object.entries(rule.byScope ?? {})
  if (granted !== undefined) {
    const known = granted.size === 0 ? 'it grants no scope' : `it grants ${[...granted].join(', ')}`
    for (const [scope] of scoped) {
      if (!granted.has(scope)) {
        throw specError(
          site,
          `${PREFIX}.byScope.${scope}`,
          `names a scope this route never grants (${known}): its fields could never be written`,
        )
      }
    }
  }
  if (scoped.length > MAX_SCOPED) {
    throw specError(
      site,
      `${PREFIX}.byScope`,
      `names ${scoped.length} scopes; at most ${MAX_SCOPED} scopes may widen a body`,
    )
  }
  const scopes = scoped.map(([scope]) => scope)
  const scopedPaths = scoped.map(([, paths]) => parsedList(paths))
  const root: BodyNode = compileBodyTrie([
    { paths: writable, grant: EVERYONE },
    ...scopedPaths.map((paths, i): { paths: FieldPath[]; grant: Grants } => ({
      paths,
      grant: 1 << (i + 1),
    })),
  ])
  const strip = rule.unknown === 'strip'
  const maxBytes = rule.maxBytes ?? null

  function maskOf(held: ReadonlySet<string>): Grants {
    let mask = EVERYONE
    for (let i = 0; i < scopes.length; i++) if (held.has(scopes[i]!)) mask |= 1 << (i + 1)
    return mask
  }

  const parts = [plural(countPaths(writable), 'field')]
  const extra = countPaths(scopedPaths.flat())
  if (extra > 0) parts[0] += ` (+${extra} by scope)`
  if (isZodSchema(rule.writable)) parts[0] = `schema: ${parts[0]}`
  parts.push(strip ? 'strip' : 'reject')
  if (maxBytes !== null) parts.push(`maxBytes ${maxBytes}`)

  return Object.freeze({
    summary: parts.join('; '),
    mode: strip ? ('strip' as const) : ('reject' as const),
    maxBytes,
    check: function checkBody(body: unknown, held: ReadonlySet<string>): BodyCheck {
      // No body, or an empty one (a text or raw parser's reading of zero bytes): nothing written.
      if (isEmpty(body)) return { ok: true, body, removed: NONE }
      if (typeof body !== 'object') {
        return typeof body === 'string' || typeof body === 'function' || typeof body === 'symbol'
          ? unreadableRefusal(describeValue(body))
          : shapeRefusal(root.items === null ? 'an object' : 'an object or an array')
      }
      if (Array.isArray(body)) {
        if (root.items === null) return shapeRefusal('an object')
      } else {
        const prototype: unknown = Object.getPrototypeOf(body)
        if (prototype !== Object.prototype && prototype !== null) {
          return unreadableRefusal(describeValue(body))
        }
        if (!root.objectLike && root.items !== null) return shapeRefusal('an array')
      }
      const f = findings(maskOf(held))
      const checked = checkValue(root, body, f)
      return verdict(f, checked, strip)
    },
  })
}
