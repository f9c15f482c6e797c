import { ITEMS, joinPath, STAR, type FieldPath } from '../allowlist/path-syntax.js'

/**
 * Who may write at a node, as a bit mask: bit 0 for every caller of the route (`writable`), bit
 * `n` for the `n`-th scope of `byScope`. A principal's own mask has bit 0 and the bits of the
 * scopes it holds; a node is writable for it when the two masks share a bit. `0`: no rule names
 * the node at all.
 */
export type Grants = number

/** The grant of `writable`: every caller. */
export const EVERYONE: Grants = 1

/**
 * One node of a compiled body rule: the union of every rule's paths (writable and each scope's),
 * each part marked with who may write it. One trie answers both questions of a body check: may
 * this principal write the field, and does any rule name it at all.
 */
export interface BodyNode {
  /** Declared object keys and their nodes. */
  readonly keys: ReadonlyMap<string, BodyNode>
  /** The node of each element (`path[]`), or `null` when no rule declares elements here. */
  readonly items: BodyNode | null
  /** Who may write a value that ends here: a scalar, `null`, or an empty object or array. */
  readonly leaf: Grants
  /**
   * Who may write a scalar (or `null`) here: `leaf`, and the grants of a `*` on the parent
   * object (which takes scalars, never objects or arrays).
   */
  readonly scalars: Grants
  /** Who may write scalars under keys `keys` does not hold (`path.*`). */
  readonly star: Grants
  /** Who may write anything at or below this node. */
  readonly reach: Grants
  /** True when objects are declared here (keys or `*`). */
  readonly objectLike: boolean
  /** The path in allowlist syntax, for reports: `''` (the body), `chapters[].title`. */
  readonly path: string
}

interface Builder {
  readonly keys: Map<string, Builder>
  items: Builder | null
  leaf: Grants
  star: Grants
}

function builder(): Builder {
  return { keys: new Map(), items: null, leaf: 0, star: 0 }
}

/** The paths of one rule and who they are writable for. */
export interface GrantedPaths {
  readonly paths: readonly FieldPath[]
  readonly grant: Grants
}

/**
 * Builds the trie of every rule's paths, once per route. The body itself (the root) may always
 * be written empty: `{}` writes nothing.
 */
export function compileBodyTrie(rules: readonly GrantedPaths[]): BodyNode {
  const root = builder()
  for (const { paths, grant } of rules) {
    for (const path of paths) {
      let node = root
      for (let i = 0; i < path.length; i++) {
        const segment = path[i]!
        if (segment === STAR) {
          node.star |= grant
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
        if (i === path.length - 1) node.leaf |= grant
      }
    }
  }
  const frozen = freeze(root, '')
  return Object.freeze({ ...frozen, reach: frozen.reach | EVERYONE })
}

// `starred`: the grants of a `*` on the parent object. A key declared under it (`stats.*` with
// `stats.daily[]`) still takes a scalar, as `*` allows: the paths of a rule add up.
function freeze(node: Builder, path: string, starred: Grants = 0): BodyNode {
  const keys = new Map<string, BodyNode>()
  let reach = node.leaf | node.star
  for (const [key, child] of node.keys) {
    const frozen = freeze(child, joinPath(path, key), node.star)
    keys.set(key, frozen)
    reach |= frozen.reach
  }
  const items = node.items === null ? null : freeze(node.items, joinPath(path, ITEMS))
  if (items !== null) reach |= items.reach
  return Object.freeze({
    keys,
    items,
    leaf: node.leaf,
    scalars: node.leaf | starred,
    star: node.star,
    reach,
    objectLike: keys.size > 0 || node.star !== 0,
    path,
  })
}
