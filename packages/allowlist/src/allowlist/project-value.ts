import { ResponseError } from '@portcullis/core'
import { ITEMS, joinPath } from './path-syntax.js'
import type { ProjectionNode } from './trie.js'

/**
 * Returned for a value JSON would have written but the allowlist does not allow here; the
 * caller drops it (or writes `null` in an array) and, when auditing, records its path.
 * `undefined` is returned for what JSON itself omits (undefined, functions, symbols).
 */
export const REMOVED: unique symbol = Symbol('portcullis.removed')

/** The most removed paths one projection reports. */
export const MAX_REMOVED = 20

/** Per-projection state: ancestors (cycle detection) and, when auditing, the removed paths. */
export interface Walk {
  /** Record removed paths (reject mode, or `collectRemoved`); off on the plain strip path. */
  audit: boolean
  readonly removed: Set<string>
  /** The objects and arrays on the path being projected, by depth. */
  readonly stack: (object | undefined)[]
}

const hasOwn = Object.hasOwn
const getPrototypeOf = Object.getPrototypeOf
const objectPrototype = Object.prototype

/**
 * Projects one value onto one node, the way `JSON.stringify` would serialize it: `toJSON` is
 * looked up and called once, undefined/functions/symbols vanish, only own keys are read, each
 * once. Throws a `ResponseError` (cycle, too many items, BigInt); a throwing getter or
 * `toJSON` propagates, and the caller turns either into a refused response.
 */
export function projectValue(
  node: ProjectionNode,
  value: unknown,
  key: string | number,
  depth: number,
  walk: Walk,
): unknown {
  let v = value
  // ECMA-262 SerializeJSONProperty: toJSON is looked up on objects, functions and BigInts.
  if ((typeof v === 'object' && v !== null) || typeof v === 'function' || typeof v === 'bigint') {
    const toJSON = (v as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function') {
      v = toJSON.call(v, typeof key === 'number' ? String(key) : key)
    }
  }
  return projectResolved(node, v, depth, walk)
}

/** {@link projectValue} for a value whose `toJSON` (if any) has already been applied. */
export function projectResolved(
  node: ProjectionNode,
  v: unknown,
  depth: number,
  walk: Walk,
): unknown {
  if (typeof v !== 'object' || v === null) return scalar(node, v)
  if (Array.isArray(v)) return projectArray(node, v, depth, walk)
  const prototype: unknown = getPrototypeOf(v)
  const plain = prototype === objectPrototype || prototype === null
  if (!plain) {
    // Boxed primitives serialize as their primitive (ECMA-262 SerializeJSONProperty step 4).
    if (v instanceof Number) return scalar(node, Number(v))
    if (v instanceof String) return scalar(node, String(v))
    if (v instanceof Boolean) return scalar(node, v.valueOf())
    if (v instanceof BigInt) return scalar(node, v.valueOf())
  }
  return projectObject(node, v, plain, depth, walk)
}

function scalar(node: ProjectionNode, v: unknown): unknown {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
      return node.scalars ? v : REMOVED
    case 'object':
      // Only null reaches here. It carries no data, so it is kept wherever a path leads.
      return null
    case 'bigint':
      if (!node.scalars) return REMOVED
      throw new ResponseError('PCL_RESPONSE_REJECTED', {
        message: `The response holds a BigInt at ${describe(node.path)}, which JSON cannot serialize (give it a toJSON)`,
      })
    default:
      return undefined
  }
}

/** The error for an object or array met again inside itself. */
export function cycleError(node: ProjectionNode): ResponseError {
  return new ResponseError('PCL_RESPONSE_REJECTED', {
    message: `The response is cyclic at ${describe(node.path)}: JSON cannot serialize it`,
  })
}

/** The error for an array at `node` longer than its cap. */
export function tooManyItemsError(node: ProjectionNode, length: number): ResponseError {
  const path = joinPath(node.path, ITEMS)
  return new ResponseError('PCL_TOO_MANY_ITEMS', {
    message: `${path === '[]' ? 'The response array' : `The array ${path}`} carries ${length} items, over its maxItems of ${node.cap}`,
  })
}

function enter(node: ProjectionNode, object: object, depth: number, walk: Walk): void {
  const stack = walk.stack
  for (let i = 0; i < depth; i++) {
    if (stack[i] === object) throw cycleError(node)
  }
  stack[depth] = object
}

function projectArray(
  node: ProjectionNode,
  array: readonly unknown[],
  depth: number,
  walk: Walk,
): unknown {
  const items = node.items
  if (items === null) {
    if (!node.empty) return REMOVED
    if (walk.audit && array.length > 0) record(walk, joinPath(node.path, ITEMS))
    return []
  }
  const length = array.length
  // Before any element is looked at: an oversized array costs one comparison.
  if (length > node.cap) throw tooManyItemsError(node, length)
  enter(node, array, depth, walk)
  const out: unknown[] = []
  const next = depth + 1
  for (let i = 0; i < length; i++) {
    // A hole reads through to the prototype; only own elements are serialized.
    const r = hasOwn(array, i) ? projectValue(items, array[i], i, next, walk) : undefined
    if (r === undefined) {
      // JSON writes null for holes, undefined, functions and symbols in arrays.
      out.push(null)
    } else if (r === REMOVED) {
      // The element's position is kept, as JSON keeps positions.
      out.push(null)
      if (walk.audit) record(walk, items.path)
    } else {
      out.push(r)
    }
  }
  return out
}

function projectObject(
  node: ProjectionNode,
  object: object,
  plain: boolean,
  depth: number,
  walk: Walk,
): unknown {
  if (!node.objectLike) {
    if (!node.empty) return REMOVED
    if (walk.audit) recordUndeclared(node, object, walk)
    return {}
  }
  enter(node, object, depth, walk)
  const source = object as Record<string, unknown>
  // A plain object literal: keys come from the allowlist or pass the check below, so no key
  // can be `__proto__`, and the output's prototype is always Object.prototype.
  const out: Record<string, unknown> = {}
  const next = depth + 1
  const star = node.star
  if (star === null) {
    const keys = node.keys
    const children = node.children
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      // Own, never inherited (or polluted). Other objects must also be enumerable, as
      // JSON.stringify reads them: an Error's message and stack are own but not enumerable.
      // Plain objects are only checked for ownership, which costs a third of the enumerable
      // check: a non-enumerable property on a plain object takes an explicit defineProperty,
      // and is kept only if the allowlist declares its key.
      if (plain ? !hasOwn(source, key) : !objectPrototype.propertyIsEnumerable.call(source, key))
        continue
      const child = children[i]!
      const r = projectValue(child, source[key], key, next, walk)
      if (r === undefined) continue
      if (r === REMOVED) {
        if (walk.audit) record(walk, child.path)
        continue
      }
      out[key] = r
    }
    if (walk.audit) recordUndeclared(node, object, walk)
    return out
  }
  const keys = Object.keys(source)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      if (walk.audit) record(walk, joinPath(node.path, key))
      continue
    }
    const r = projectValue(node.index.get(key) ?? star, source[key], key, next, walk)
    if (r === undefined) continue
    if (r === REMOVED) {
      if (walk.audit) record(walk, joinPath(node.path, key))
      continue
    }
    out[key] = r
  }
  return out
}

// Reports the keys of an object that the node does not declare and JSON would have written.
// Values are judged by their descriptors, so no getter runs for a key that is not kept; a
// path already reported (the same key in every element of an array) costs no descriptor.
function recordUndeclared(node: ProjectionNode, object: object, walk: Walk): void {
  const removed = walk.removed
  if (removed.size >= MAX_REMOVED) return
  const keys = Object.keys(object)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    if (node.index.has(key)) continue
    const path = undeclaredPath(node, key)
    if (removed.has(path)) continue
    const descriptor = Object.getOwnPropertyDescriptor(object, key)
    if (descriptor === undefined) continue
    if ('get' in descriptor) {
      if (descriptor.get === undefined) continue
    } else {
      const value: unknown = descriptor.value
      if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue
    }
    removed.add(path)
    if (removed.size >= MAX_REMOVED) return
  }
}

// Paths hold key names from the response (never values); a long key is cut so that a
// map keyed by data cannot flood the report.
const MAX_PATH_REPORTED = 200

// The same undeclared keys come back in every element of an array and every response: their
// paths are built once per node (a bounded number of them, since keys can be data).
const MAX_MEMO = 256
const undeclaredPaths = new WeakMap<ProjectionNode, Map<string, string>>()

function undeclaredPath(node: ProjectionNode, key: string): string {
  let memo = undeclaredPaths.get(node)
  if (memo === undefined) {
    memo = new Map()
    undeclaredPaths.set(node, memo)
  }
  let path = memo.get(key)
  if (path === undefined) {
    path = reportedPath(joinPath(node.path, key))
    if (memo.size < MAX_MEMO) memo.set(key, path)
  }
  return path
}

function reportedPath(path: string): string {
  if (path === '') return '(body)'
  return path.length > MAX_PATH_REPORTED ? `${path.slice(0, MAX_PATH_REPORTED)}…` : path
}

function record(walk: Walk, path: string): void {
  if (walk.removed.size < MAX_REMOVED) walk.removed.add(reportedPath(path))
}

function describe(path: string): string {
  return path === '' ? 'the body' : path
}
