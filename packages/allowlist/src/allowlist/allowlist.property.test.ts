import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileAllowlist, type ProjectionContext } from './compile-allowlist.js'
import { FORBIDDEN_KEYS, formatPath, ITEMS, parsePath, STAR, type Segment } from './path-syntax.js'

// Few keys, so that random allowlists and random bodies meet often.
const KEYS = ['a', 'b', 'id', 'x', 'yz']
const context: ProjectionContext = { status: 200, scopes: new Set() }

/** A JSON-like value: objects, arrays, strings, numbers, booleans and null. */
const json = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.string({ maxLength: 3 }), fc.integer(), fc.boolean(), fc.constant(null)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 4 }),
  ),
})).value

// Every path a value has, in the allowlist syntax, with `*` for each object.
function pathsOf(value: unknown, prefix: Segment[] = [], out: Segment[][] = []): Segment[][] {
  if (Array.isArray(value)) {
    const path: Segment[] = [...prefix, ITEMS]
    out.push(path)
    for (const item of value) pathsOf(item, path, out)
  } else if (typeof value === 'object' && value !== null) {
    out.push([...prefix, STAR])
    for (const [key, item] of Object.entries(value)) {
      const path: Segment[] = [...prefix, key]
      out.push(path)
      pathsOf(item, path, out)
    }
  }
  return out
}

const noise = fc
  .array(fc.constantFrom(...KEYS, '[]', '*'), { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join('.').replaceAll('.[]', '[]'))
  .filter((text) => parsePath(text).ok)

/** A body and an allowlist drawn from the body's own paths plus noise. */
const bodyAndAllowlist = json.chain((body) => {
  const own = [...new Set(pathsOf(body).map(formatPath))]
  return fc.tuple(
    fc.constant(body),
    fc
      .tuple(fc.subarray(own), fc.array(noise, { maxLength: 3 }))
      .map(([mine, extra]) => [...mine, ...extra]),
  )
})

type Kind = 'scalar' | 'null' | 'empty' | 'container'

function matches(allowed: readonly Segment[], path: readonly Segment[], exact: boolean): boolean {
  if (exact ? allowed.length !== path.length : allowed.length < path.length) return false
  return path.every((segment, i) => allowed[i] === segment)
}

// Whether a value of this kind may appear at this path of the output.
function isAllowed(allow: readonly (readonly Segment[])[], path: readonly Segment[], kind: Kind) {
  const last = path[path.length - 1]
  const starred =
    typeof last === 'string' && allow.some((a) => matches(a, [...path.slice(0, -1), STAR], true))
  switch (kind) {
    case 'scalar':
      return starred || allow.some((a) => matches(a, path, true))
    case 'null':
    case 'empty':
      return starred || allow.some((a) => matches(a, path, false))
    case 'container':
      return allow.some((a) => a.length > path.length && matches(a, path, false))
  }
}

function kindOf(value: unknown): Kind {
  if (value === null) return 'null'
  if (Array.isArray(value)) return value.length === 0 ? 'empty' : 'container'
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'empty' : 'container'
  return 'scalar'
}

/** Every (path, value) of an output, depth first; array indices become `[]`. */
function* walk(value: unknown, path: Segment[] = []): Generator<[Segment[], unknown]> {
  yield [path, value]
  if (Array.isArray(value)) {
    for (const item of value) yield* walk(item, [...path, ITEMS])
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) yield* walk(item, [...path, key])
  }
}

/** Every scalar of an input with its concrete location (keys and indices). */
function* scalars(value: unknown, at: (string | number)[] = []): Generator<(string | number)[]> {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* scalars(value[i], [...at, i])
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) yield* scalars(item, [...at, key])
  } else {
    yield at
  }
}

function read(
  value: unknown,
  at: readonly (string | number)[],
): { found: boolean; value: unknown } {
  let current = value
  for (const step of at) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, step)) {
      return { found: false, value: undefined }
    }
    current = (current as Record<string | number, unknown>)[step]
  }
  return { found: true, value: current }
}

function segments(text: string): readonly Segment[] {
  const parsed = parsePath(text)
  if (!parsed.ok) throw new Error(`${text} ${parsed.reason}`)
  return parsed.path
}

function project(body: unknown, allow: readonly string[]) {
  const compiled = compileAllowlist({ allow })
  const fast = compiled.project(body, context)
  const audited = compiled.project(body, { ...context, collectRemoved: true })
  if (!fast.ok || !audited.ok) throw new Error('a JSON-like body must project')
  // The generated strip code and the audited interpreter agree.
  expect(audited.value).toEqual(fast.value)
  return { compiled, value: fast.value, removed: audited.removed }
}

describe('allowlist properties (fast-check)', () => {
  it('never outputs a path outside the allowlist', () => {
    fc.assert(
      fc.property(bodyAndAllowlist, ([body, allowText]) => {
        const allow = allowText.map(segments)
        const { value } = project(body, allowText)
        for (const [path, item] of walk(value)) {
          if (path.length === 0) continue
          expect(path.some((s) => typeof s === 'string' && FORBIDDEN_KEYS.has(s))).toBe(false)
          if (!isAllowed(allow, path, kindOf(item))) {
            throw new Error(
              `${formatPath(path)} (${kindOf(item)}) is outside [${allowText.join(', ')}]`,
            )
          }
        }
      }),
      { numRuns: 300 },
    )
  })

  // A scalar (string, number, boolean or null) is "present" at a location when the input
  // holds it there; it is "allowed" when its path, with indices as `[]`, is declared, or its
  // parent's path with `*` is (for an object key). Then the output holds it at the same place.
  it('always outputs every allowed scalar present in the input, at its place', () => {
    fc.assert(
      fc.property(bodyAndAllowlist, ([body, allowText]) => {
        const allow = allowText.map(segments)
        const { value } = project(body, allowText)
        for (const at of scalars(body)) {
          const path = at.map((step): Segment => (typeof step === 'number' ? ITEMS : step))
          if (path.length === 0) continue
          if (!isAllowed(allow, path, 'scalar')) continue
          const out = read(value, at)
          expect(out.found, `${formatPath(path)} missing`).toBe(true)
          expect(out.value).toEqual(read(body, at).value)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('is a fixpoint: the output projects onto itself unchanged, even in reject mode', () => {
    fc.assert(
      fc.property(bodyAndAllowlist, ([body, allowText]) => {
        const { value } = project(body, allowText)
        const reject = compileAllowlist({ allow: allowText, mode: 'reject' })
        expect(reject.project(value, context)).toEqual({ ok: true, value, removed: [] })
      }),
      { numRuns: 200 },
    )
  })

  it('reports removed paths exactly when reject mode refuses', () => {
    fc.assert(
      fc.property(bodyAndAllowlist, ([body, allowText]) => {
        const { removed } = project(body, allowText)
        const rejected = compileAllowlist({ allow: allowText, mode: 'reject' }).project(
          body,
          context,
        )
        expect(rejected.ok).toBe(removed.length === 0)
      }),
      { numRuns: 200 },
    )
  })
})

class Point {
  constructor(
    readonly x: number,
    readonly hidden: string,
  ) {}
  toJSON() {
    return { x: this.x, kind: 'point' }
  }
}

/** Values JSON.stringify transforms: Dates, toJSON, Map/Set, boxed, undefined, functions. */
const serializable = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.oneof(
      fc.string({ maxLength: 3 }),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.constant(() => 1),
      fc.date({ noInvalidDate: true }),
      fc.integer().map((n) => new Point(n, 'secret')),
      fc.integer().map((n) => Object(n) as unknown),
      fc.constant(new Map([['a', 1]])),
      fc.constant(new Set([1])),
    ),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS, 'kind'), tie('value'), { maxKeys: 4 }),
  ),
})).value

describe('allowlist JSON semantics (fast-check)', () => {
  const allowlists = [
    ['a', 'b.*', 'id[]', 'x[].a', 'x[].x', 'yz.b.kind', 'yz.id[].x', '[].a', '[].x'],
    ['*', 'x.*', 'a[].*', '[][]', 'b.x'],
    ['a.a.a', 'a.b[]', 'a.kind', 'id', 'x[][].x', '[].*'],
  ].map((allow) => compileAllowlist({ allow }))

  it('projects a value as it projects its JSON round trip', () => {
    fc.assert(
      fc.property(serializable, fc.constantFrom(...allowlists), (body, compiled) => {
        const direct = compiled.project(body, context)
        const text = JSON.stringify(body)
        const roundTrip = compiled.project(
          text === undefined ? undefined : JSON.parse(text),
          context,
        )
        expect(direct.ok && roundTrip.ok).toBe(true)
        if (direct.ok && roundTrip.ok) {
          expect(JSON.stringify(direct.value)).toBe(JSON.stringify(roundTrip.value))
        }
      }),
      { numRuns: 300 },
    )
  })
})
