import { isPortcullisError } from '@portcullis/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatPath, ITEMS, parsePath, STAR, type Segment } from '../allowlist/path-syntax.js'
import { compileBodyRule } from './compile-body-rule.js'

// Few keys, so that random rules and random bodies meet often.
const KEYS = ['a', 'b', 'id', 'x', 'yz']
const SCOPES = ['s1', 's2']

/** A JSON-like value: objects, arrays, strings, numbers, booleans and null. */
const json = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.string({ maxLength: 3 }), fc.integer(), fc.boolean(), fc.constant(null)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 4 }),
  ),
})).value

/** A request body: an object at the top, as JSON and form parsers make them. */
const body = fc.dictionary(fc.constantFrom(...KEYS), json, { maxKeys: 5 })

// Every path a value has, in the path syntax, with `*` for each object.
function pathsOf(value: unknown, prefix: Segment[] = [], out: Segment[][] = []): Segment[][] {
  if (Array.isArray(value)) {
    const path: Segment[] = [...prefix, ITEMS]
    out.push(path)
    for (const item of value) pathsOf(item, path, out)
  } else if (typeof value === 'object' && value !== null) {
    if (prefix.length > 0) out.push([...prefix, STAR])
    for (const [key, item] of Object.entries(value)) {
      const path: Segment[] = [...prefix, key]
      out.push(path)
      pathsOf(item, path, out)
    }
  }
  return out
}

// Noise never starts with '[]' (a rule for a top-level array, which an object body never meets).
const noise = fc
  .array(fc.constantFrom(...KEYS, '[]', '*'), { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join('.').replaceAll('.[]', '[]'))
  .filter((text) => !text.startsWith('[') && parsePath(text).ok)

/** A list of paths drawn from the body's own paths plus noise. */
function pathsFor(value: unknown, minLength = 0) {
  const own = [...new Set(pathsOf(value).map(formatPath))]
  return fc
    .tuple(fc.subarray(own), fc.array(noise, { maxLength: 3 }))
    .map(([mine, extra]) => [...mine, ...extra])
    .filter((paths) => paths.length >= minLength)
}

/** A body, a rule over its paths (writable, and each scope's), the principal's scopes. */
const scenario = body.chain((value) =>
  fc.record({
    body: fc.constant(value),
    writable: pathsFor(value),
    byScope: fc.dictionary(fc.constantFrom(...SCOPES), pathsFor(value, 1), { maxKeys: 2 }),
    unknown: fc.constantFrom('reject' as const, 'strip' as const),
    held: fc.subarray(SCOPES),
  }),
)

/** What a body writes: each scalar (or null) at its path, each empty object or array at its. */
interface Write {
  readonly path: readonly Segment[]
  readonly kind: 'scalar' | 'empty'
}

function writes(value: unknown, prefix: Segment[] = [], out: Write[] = []): Write[] {
  if (Array.isArray(value)) {
    if (value.length === 0) out.push({ path: prefix, kind: 'empty' })
    for (const item of value) writes(item, [...prefix, ITEMS], out)
  } else if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value)
    if (keys.length === 0) out.push({ path: prefix, kind: 'empty' })
    for (const key of keys) writes((value as Record<string, unknown>)[key], [...prefix, key], out)
  } else {
    out.push({ path: prefix, kind: 'scalar' })
  }
  return out
}

function parsed(paths: readonly string[]): Segment[][] {
  return paths.map((text) => {
    const result = parsePath(text)
    if (!result.ok) throw new Error(text)
    return [...result.path]
  })
}

function startsWith(path: readonly Segment[], prefix: readonly Segment[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => path[i] === segment)
}

/**
 * The oracle, written from the documented semantics rather than from the trie: a scalar may be
 * written where a path ends, or under a `*` parent (an object key); an empty object or array
 * where a path passes through (it writes nothing below). The body itself may always be `{}`.
 */
function allowed(set: readonly Segment[][], write: Write): boolean {
  const { path } = write
  if (write.kind === 'empty') return path.length === 0 || set.some((d) => startsWith(d, path))
  const last = path[path.length - 1]
  return set.some(
    (d) =>
      (d.length === path.length && startsWith(d, path)) ||
      (typeof last === 'string' &&
        d.length === path.length &&
        d[d.length - 1] === STAR &&
        startsWith(d, path.slice(0, -1))),
  )
}

// Whether some rule of `set` writes under a prefix of `path` (at least one segment).
function reachesAbove(
  every: readonly Segment[][],
  mine: readonly Segment[][],
  path: readonly Segment[],
): boolean {
  for (let length = 1; length <= path.length; length++) {
    const prefix = path.slice(0, length)
    const reaches = (set: readonly Segment[][]) => set.some((d) => startsWith(d, prefix))
    if (reaches(every) && !reaches(mine)) return true
  }
  return false
}

describe('body rules: property-based', () => {
  it('what reaches the handler never holds a path outside the writable set for the principal', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const rule = compileBodyRule({
          writable: s.writable,
          byScope: s.byScope,
          unknown: s.unknown,
        })
        const held = new Set(s.held)
        const mine = parsed([
          ...s.writable,
          ...Object.entries(s.byScope).flatMap(([scope, paths]) => (held.has(scope) ? paths : [])),
        ])
        const result = rule.check(s.body, held)
        if (!result.ok) return
        for (const write of writes(result.body)) {
          expect(allowed(mine, write), `${formatPath(write.path)} (${write.kind})`).toBe(true)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('a body that writes only writable paths passes untouched, the same object', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const held = new Set(s.held)
        const mine = parsed([
          ...s.writable,
          ...Object.entries(s.byScope).flatMap(([scope, paths]) => (held.has(scope) ? paths : [])),
        ])
        fc.pre(writes(s.body).every((write) => allowed(mine, write)))
        const rule = compileBodyRule({ writable: s.writable, byScope: s.byScope })
        const result = rule.check(s.body, held)
        expect(result.ok).toBe(true)
        if (result.ok) expect(result.body).toBe(s.body)
      }),
      { numRuns: 1000 },
    )
  })

  it('403 only when a rule of another scope names what the body writes', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const held = new Set(s.held)
        const all = Object.entries(s.byScope)
        const mine = parsed([...s.writable, ...all.flatMap(([k, p]) => (held.has(k) ? p : []))])
        const every = parsed([...s.writable, ...all.flatMap(([, p]) => p)])
        const result = rule(s).check(s.body, held)
        if (result.ok || !isPortcullisError(result.error, 'PCL_FIELD_NOT_WRITABLE')) return
        const justified = writes(s.body).some(
          (write) =>
            (allowed(every, write) && !allowed(mine, write)) ||
            reachesAbove(every, mine, write.path),
        )
        expect(justified).toBe(true)
      }),
      { numRuns: 1000 },
    )
  })

  it('prototype keys never pass, wherever JSON.parse puts them', () => {
    const key = fc.constantFrom('__proto__', 'constructor', 'prototype')
    fc.assert(
      fc.property(
        scenario,
        key,
        fc.array(fc.constantFrom(...KEYS), { maxLength: 2 }),
        (s, k, at) => {
          // Built as text, so that JSON.parse makes the key an own data property.
          let text = `{${JSON.stringify(k)}:{"polluted":true}}`
          for (const name of [...at].reverse()) text = `{${JSON.stringify(name)}:${text}}`
          const merged = { ...s.body, ...(JSON.parse(text) as object) }
          // Declared all the way down: the key is met, and refused whatever the mode.
          const declared = [...s.writable, [...at, '*'].join('.')]
          const refused = rule(s, declared).check(merged, new Set(SCOPES))
          expect(refused.ok).toBe(false)
          if (!refused.ok) expect(refused.always).toBe(true)
          // Under an undeclared parent, it goes with its parent: never into the body handed on.
          const any = rule(s, ['*', ...s.writable]).check(merged, new Set(SCOPES))
          if (any.ok) expect(holdsForbidden(any.body)).toBe(false)
        },
      ),
      { numRuns: 500 },
    )
  })
})

function holdsForbidden(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  return Object.keys(value).some(
    (key) =>
      key === '__proto__' ||
      key === 'constructor' ||
      key === 'prototype' ||
      holdsForbidden((value as Record<string, unknown>)[key]),
  )
}

function rule(
  s: { writable: string[]; byScope: Record<string, string[]>; unknown: 'reject' | 'strip' },
  writable: string[] = s.writable,
) {
  return compileBodyRule({ writable, byScope: s.byScope, unknown: s.unknown })
}
