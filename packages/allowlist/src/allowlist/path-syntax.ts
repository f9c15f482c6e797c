/** The `[]` segment: every element of an array. */
export const ITEMS: unique symbol = Symbol('[]')
/** The `*` segment: every key of an object whose value is a scalar. */
export const STAR: unique symbol = Symbol('*')

/** One segment of a parsed field path: an object key, `[]` or `*`. */
export type Segment = string | typeof ITEMS | typeof STAR

/** A parsed field path. */
export type FieldPath = readonly Segment[]

/** The outcome of {@link parsePath}: the segments, or why the text is not a field path. */
export type ParsedPath = { ok: true; path: FieldPath } | { ok: false; reason: string }

/**
 * Keys that are never declared nor copied: writing them onto a plain object can replace its
 * prototype (`__proto__`) or shadow what code expects of every object.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
])

const MAX_PATH_LENGTH = 512
const MAX_SEGMENTS = 32

// Characters that end a key in the path syntax. Keys are otherwise free-form (unicode letters,
// dashes, colons, digits), because JSON keys are.
function isSyntax(ch: string): boolean {
  return ch === '.' || ch === '[' || ch === ']' || ch === '*'
}

function isSpace(ch: string): boolean {
  return /^\s$/u.test(ch) || ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f
}

/**
 * Parses a field path (`id`, `owner.id`, `tags[]`, `items[].title`, `stats.*`, `[].id`, `[]`)
 * into segments, once at startup. Nothing here runs per request.
 */
export function parsePath(text: string): ParsedPath {
  if (text.length === 0) return { ok: false, reason: 'is empty' }
  if (text.length > MAX_PATH_LENGTH) {
    return { ok: false, reason: `is longer than ${MAX_PATH_LENGTH} characters` }
  }
  const path: Segment[] = []
  let i = 0
  // What may come next: a key (or '*') at the start and after '.', then '.', '[]' or the end.
  let expectKey = true
  while (i < text.length) {
    const ch = text[i]!
    if (isSpace(ch)) return { ok: false, reason: `contains whitespace at character ${i + 1}` }
    if (ch === '[') {
      if (text[i + 1] !== ']') {
        return { ok: false, reason: `has '[' without ']' at character ${i + 1}: write '[]'` }
      }
      if (expectKey && path.length > 0) {
        return { ok: false, reason: `has an empty segment before '[]' at character ${i + 1}` }
      }
      path.push(ITEMS)
      i += 2
      expectKey = false
      continue
    }
    if (ch === ']') return { ok: false, reason: `has a stray ']' at character ${i + 1}` }
    if (ch === '.') {
      if (expectKey) return { ok: false, reason: `has an empty segment at character ${i + 1}` }
      expectKey = true
      i++
      if (i === text.length) return { ok: false, reason: 'ends with an empty segment' }
      continue
    }
    if (!expectKey) {
      return {
        ok: false,
        reason: `must continue with '.' or '[]' after '[]' at character ${i + 1}`,
      }
    }
    if (ch === '*') {
      if (i + 1 !== text.length) {
        return {
          ok: false,
          reason:
            "has '*' before its end: '*' keeps the scalar values of one object and must be the last segment",
        }
      }
      path.push(STAR)
      i++
      expectKey = false
      continue
    }
    let end = i
    while (end < text.length && !isSyntax(text[end]!) && !isSpace(text[end]!)) end++
    if (end < text.length && text[end] === '*') {
      return { ok: false, reason: `has '*' inside a key at character ${end + 1}: '*' is a segment` }
    }
    const key = text.slice(i, end)
    if (FORBIDDEN_KEYS.has(key)) {
      return {
        ok: false,
        reason: `names '${key}', a key that is never copied (prototype pollution)`,
      }
    }
    path.push(key)
    i = end
    expectKey = false
  }
  if (path.length > MAX_SEGMENTS) {
    return { ok: false, reason: `has more than ${MAX_SEGMENTS} segments` }
  }
  return { ok: true, path }
}

/** The display form of a path or a path prefix, in the allowlist syntax (`items[].title`). */
export function formatPath(path: FieldPath): string {
  let out = ''
  for (const segment of path) out = joinPath(out, segment)
  return out
}

/** Appends one segment to a display path: `join('items[]', 'title')` is `items[].title`. */
export function joinPath(prefix: string, segment: Segment): string {
  if (segment === ITEMS) return `${prefix}[]`
  const name = segment === STAR ? '*' : segment
  return prefix === '' ? name : `${prefix}.${name}`
}

/** True when the path names an array: it ends with `[]` (`'[]'`, `'items[]'`). */
export function isArrayPath(path: FieldPath): boolean {
  return path.length > 0 && path[path.length - 1] === ITEMS
}
