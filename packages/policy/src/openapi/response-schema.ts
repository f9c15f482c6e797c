import type { MaxItemsExposure } from '../inventory/index.js'

/** A JSON Schema, as OpenAPI 3 documents hold it. */
export type JsonSchema = { readonly [key: string]: unknown }

type Node =
  | { kind: 'any' }
  | { kind: 'array'; items: Node; path: string }
  | { kind: 'object'; properties: Map<string, Node>; open: boolean }

function objectNode(): Node & { kind: 'object' } {
  return { kind: 'object', properties: new Map(), open: false }
}

// `items[][]` → `items` and 2 array levels.
function splitSegment(segment: string): { key: string; depth: number } {
  let key = segment
  let depth = 0
  while (key.endsWith('[]')) {
    key = key.slice(0, -2)
    depth++
  }
  return { key, depth }
}

// Adds one allowlist path below `node` (`canonical` is its path, in the `maxItems` syntax). A
// field allowed whole (`owner`) stays whole when a path below it is listed too (`owner.id`).
function insert(node: Node | undefined, segments: readonly string[], canonical: string): Node {
  if (segments.length === 0 || node?.kind === 'any') return { kind: 'any' }
  const [segment, ...rest] = segments as [string, ...string[]]
  const { key, depth } = splitSegment(segment)
  if (key === '*') {
    // `stats.*`: any scalar key of `stats`, beside the ones listed.
    const object = node?.kind === 'object' ? node : objectNode()
    object.open = true
    return object
  }
  // `[].id`: the body itself is an array.
  if (key === '') return arrays(node, depth, rest, canonical)
  const object = node?.kind === 'object' ? node : objectNode()
  const path = canonical === '' ? key : `${canonical}.${key}`
  object.properties.set(key, arrays(object.properties.get(key), depth, rest, path))
  return object
}

function arrays(
  node: Node | undefined,
  depth: number,
  rest: readonly string[],
  canonical: string,
): Node {
  if (depth === 0) return insert(node, rest, canonical)
  if (node?.kind === 'any') return node
  const path = `${canonical}[]`
  const items = node?.kind === 'array' ? node.items : undefined
  return { kind: 'array', path, items: arrays(items, depth - 1, rest, path) }
}

function emit(node: Node, maxItems: MaxItemsExposure | null): JsonSchema {
  if (node.kind === 'any') return {}
  if (node.kind === 'array') {
    const cap = maxItems?.paths[node.path] ?? maxItems?.default
    return {
      type: 'array',
      items: emit(node.items, maxItems),
      ...(cap === undefined || cap === null ? {} : { maxItems: cap }),
    }
  }
  const properties: Record<string, JsonSchema> = {}
  for (const key of [...node.properties.keys()].sort()) {
    properties[key] = emit(node.properties.get(key)!, maxItems)
  }
  // Strip and reject modes alike: no other key leaves.
  return {
    type: 'object',
    properties,
    ...(node.open ? {} : { additionalProperties: false }),
  }
}

/**
 * The JSON Schema of a success body, from the allowlist paths that can leave it (`'id'`,
 * `'owner.id'`, `'tags[]'`, `'items[].title'`, `'stats.*'`, `'[].id'`), every field optional,
 * arrays capped by `maxItems`.
 */
export function allowlistSchema(
  paths: readonly string[],
  maxItems: MaxItemsExposure | null,
): JsonSchema {
  let root: Node | undefined
  for (const path of [...paths].sort()) root = insert(root, path.split('.'), '')
  return emit(root ?? objectNode(), maxItems)
}
