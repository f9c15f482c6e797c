import { ITEMS, joinPath, STAR, type FieldPath } from './path-syntax.js'

/**
 * One node of a compiled allowlist: what may be kept of the value found at one path. Built once
 * per allowlist (and per scope combination), immutable, and walked by `project-value.ts`.
 */
export interface ProjectionNode {
  /** Declared object keys, in declaration order (the order of the output's keys). */
  readonly keys: readonly string[]
  /** The node of each key in `keys`, at the same index. */
  readonly children: readonly ProjectionNode[]
  /** `keys` as a map, for `*` objects and for reporting undeclared keys. */
  readonly index: ReadonlyMap<string, ProjectionNode>
  /** `path.*`: the node of keys not in `keys`, which keeps scalar values only; else `null`. */
  readonly star: ProjectionNode | null
  /** True when objects at this path are projected (declared keys or `*`). */
  readonly objectLike: boolean
  /** The node of each element (`path[]`), or `null` when no element is declared. */
  readonly items: ProjectionNode | null
  /** True when a path ends here: a scalar (or null) value is kept. */
  readonly scalars: boolean
  /**
   * True when a path ends here: an object or array with nothing declared below it is kept
   * empty (`owner` alone yields `owner: {}`). `*` children keep scalars only.
   */
  readonly empty: boolean
  /** The most elements an array at this path may carry (`Infinity`: no cap). */
  readonly cap: number
  /** The path in allowlist syntax, for reports: `''` (the body), `items[]`, `owner.id`. */
  readonly path: string
}

interface Builder {
  readonly keys: Map<string, Builder>
  items: Builder | null
  star: boolean
  leaf: boolean
}

function builder(): Builder {
  return { keys: new Map(), items: null, star: false, leaf: false }
}

/** Caps for the arrays of one trie, by array path (`'[]'`, `'items[]'`); `Infinity` for none. */
export type CapFor = (arrayPath: string) => number

const NO_CAP: CapFor = () => Infinity

/**
 * Builds the trie of a set of paths and compiles it into immutable projection nodes. The body
 * itself (the root) is always a container: an object or array body with nothing declared in it
 * becomes `{}` or `[]`.
 */
export function compileTrie(paths: Iterable<FieldPath>, capFor: CapFor = NO_CAP): ProjectionNode {
  const root = builder()
  for (const path of paths) {
    let node = root
    for (let i = 0; i < path.length; i++) {
      const segment = path[i]!
      if (segment === STAR) {
        node.star = true
        break
      }
      if (segment === ITEMS) {
        node.items ??= builder()
        node = node.items
      } else {
        let next = node.keys.get(segment)
        if (next === undefined) {
          next = builder()
          node.keys.set(segment, next)
        }
        node = next
      }
      if (i === path.length - 1) node.leaf = true
    }
  }
  return freeze(root, '', capFor, true, false)
}

function freeze(
  node: Builder,
  path: string,
  capFor: CapFor,
  isRoot: boolean,
  starred: boolean,
): ProjectionNode {
  const keys = [...node.keys.keys()]
  // A key declared under a `*` object (`stats.*` with `stats.daily[]`) still keeps a scalar
  // value, as `*` allows: the paths of an allowlist add up.
  const children = keys.map((key) =>
    freeze(node.keys.get(key)!, joinPath(path, key), capFor, false, node.star),
  )
  const items =
    node.items === null ? null : freeze(node.items, joinPath(path, ITEMS), capFor, false, false)
  return Object.freeze({
    keys: Object.freeze(keys),
    children: Object.freeze(children),
    index: new Map(keys.map((key, i) => [key, children[i]!])),
    star: node.star ? starChild(path) : null,
    objectLike: keys.length > 0 || node.star,
    items,
    scalars: node.leaf || starred,
    empty: node.leaf || isRoot,
    cap: items === null ? Infinity : capFor(joinPath(path, ITEMS)),
    path,
  })
}

// The node of the keys a `*` keeps: scalars (and null) only, nothing nested.
function starChild(parentPath: string): ProjectionNode {
  return Object.freeze({
    keys: Object.freeze([]),
    children: Object.freeze([]),
    index: new Map(),
    star: null,
    objectLike: false,
    items: null,
    scalars: true,
    empty: false,
    cap: Infinity,
    path: joinPath(parentPath, STAR),
  })
}

/** Every array path (`'[]'`, `'items[]'`) a trie reaches, for validating `maxItems`. */
export function arrayPaths(node: ProjectionNode, out: Set<string> = new Set()): Set<string> {
  if (node.items !== null) {
    out.add(node.items.path)
    arrayPaths(node.items, out)
  }
  for (const child of node.children) arrayPaths(child, out)
  return out
}

/** The number of distinct paths declared (for summaries). */
export function countPaths(paths: Iterable<FieldPath>): number {
  const seen = new Set<string>()
  for (const path of paths) seen.add(pathKey(path))
  return seen.size
}

function pathKey(path: FieldPath): string {
  // Keys may contain any character, so the display form is not unique; this one is.
  return JSON.stringify(path.map((s) => (s === ITEMS ? 0 : s === STAR ? 1 : s)))
}
