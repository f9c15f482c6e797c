import { joinPath, ITEMS } from '../allowlist/path-syntax.js'
import type { BodyNode, Grants } from './body-trie.js'

/** Returned for a value the check removes (strip) or refuses; never handed to the application. */
export const REMOVED: unique symbol = Symbol('portcullis.body.removed')

/** The most paths one check reports per kind of finding. */
export const MAX_REPORTED = 20

// Paths hold key names from the request (never values); a long key is cut so that a body keyed
// by data cannot flood the report.
const MAX_PATH_REPORTED = 200

/** What one check found, filled lazily: a clean body allocates none of it. */
export interface BodyFindings {
  /** The principal's grants: bit 0 and the bits of the scopes it holds. */
  readonly mask: Grants
  /** Fields some rule makes writable and the principal's scopes do not. */
  notWritable: Set<string> | null
  /** Fields no rule names (or names with another shape). */
  unknown: Set<string> | null
  /** `__proto__`, `constructor` and `prototype` keys, refused whatever the rule. */
  forbidden: Set<string> | null
  /** Where the body holds a value no JSON or form parser makes (a Buffer, a Date), and what. */
  unreadable: string | null
}

/** Starts the findings of one check. */
export function findings(mask: Grants): BodyFindings {
  return { mask, notWritable: null, unknown: null, forbidden: null, unreadable: null }
}

const getPrototypeOf = Object.getPrototypeOf
const objectPrototype = Object.prototype

/**
 * The report form of a path, long keys cut. Never the body itself: its node takes every caller,
 * and a body of the wrong shape is named `(body)` by `compileBodyRule`.
 */
export function reportedPath(path: string): string {
  return path.length > MAX_PATH_REPORTED ? `${path.slice(0, MAX_PATH_REPORTED)}…` : path
}

function add(set: Set<string> | null, path: string): Set<string> {
  const out = set ?? new Set<string>()
  if (out.size < MAX_REPORTED) out.add(reportedPath(path))
  return out
}

function notWritable(f: BodyFindings, path: string): void {
  f.notWritable = add(f.notWritable, path)
}

function unknown(f: BodyFindings, path: string): void {
  f.unknown = add(f.unknown, path)
}

/**
 * Judges a write at `node` that needs `grant`: writable for the principal, or a finding. A field
 * some rule grants (to a scope the principal lacks) is not writable; so is a node the principal
 * reaches nothing under while some scope does. Anything else is unknown: no rule names it, or not
 * with this shape (a scalar where only `owner.id` is declared).
 */
function judge(f: BodyFindings, node: BodyNode, grant: Grants, path: string): boolean {
  if ((grant & f.mask) !== 0) return true
  if (grant !== 0 || (node.reach & f.mask) === 0) notWritable(f, path)
  else unknown(f, path)
  return false
}

/** A short, value-free name of what a value is, for `PCL_BODY_UNREADABLE`. */
export function describeValue(value: unknown): string {
  if (typeof value !== 'object' || value === null) {
    return typeof value === 'bigint' ? 'a BigInt' : `a ${typeof value}`
  }
  if (typeof (value as { pipe?: unknown }).pipe === 'function') return 'a stream'
  // Described only when its prototype is neither `Object.prototype` nor `null` (a Buffer is
  // 'a Buffer' by its constructor's name).
  const name = (getPrototypeOf(value) as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && /^[A-Za-z_$][\w$]{0,40}$/u.test(name)
    ? `a ${name}`
    : 'an object that is not plain'
}

function unreadable(f: BodyFindings, path: string, value: unknown): void {
  // Never the body itself: `compileBodyRule` refuses a body that is not plain before the walk.
  if (f.unreadable === null) f.unreadable = `${describeValue(value)} at ${reportedPath(path)}`
}

/**
 * Checks one value against one node, the way JSON and form parsers build bodies: plain objects
 * (any prototype other than `Object.prototype` or `null` is refused), arrays, strings, numbers,
 * booleans and `null`. Returns the value itself when nothing in it was removed, a copy without
 * the removed parts otherwise, or {@link REMOVED}. The walk never goes deeper than the rules do:
 * an undeclared key is reported where it stands, not walked into.
 */
export function checkValue(node: BodyNode, value: unknown, f: BodyFindings): unknown {
  if (typeof value !== 'object' || value === null) {
    switch (typeof value) {
      case 'string':
      case 'number':
      case 'boolean':
      case 'undefined':
      case 'object':
        return judge(f, node, node.scalars, node.path) ? value : REMOVED
      default:
        unreadable(f, node.path, value)
        return REMOVED
    }
  }
  if (Array.isArray(value)) return checkArray(node, value, f)
  const prototype: unknown = getPrototypeOf(value)
  if (prototype !== objectPrototype && prototype !== null) {
    unreadable(f, node.path, value)
    return REMOVED
  }
  return checkObject(node, value as Record<string, unknown>, f)
}

function checkArray(node: BodyNode, array: readonly unknown[], f: BodyFindings): unknown {
  const length = array.length
  if (length === 0) return judge(f, node, node.reach, node.path) ? array : REMOVED
  const items = node.items
  let out: unknown[] | null = null
  if (items === null) {
    // No rule declares elements here: each one is undeclared, reported once.
    unknown(f, joinPath(node.path, ITEMS))
    out = []
  } else {
    for (let i = 0; i < length; i++) {
      const element = array[i]
      const r = checkValue(items, element, f)
      if (r === element) {
        if (out !== null) out.push(element)
        continue
      }
      out ??= array.slice(0, i)
      if (r !== REMOVED) out.push(r)
    }
  }
  if (out === null) return array
  // What is left is written too: an array emptied by the check must be writable empty. (One that
  // keeps an element is: the element was judged writable below it.)
  return judge(f, node, node.reach, node.path) ? out : REMOVED
}

function isScalar(value: unknown): boolean {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'boolean'
  )
}

function checkObject(node: BodyNode, object: Record<string, unknown>, f: BodyFindings): unknown {
  const keys = Object.keys(object)
  const length = keys.length
  if (length === 0) return judge(f, node, node.reach, node.path) ? object : REMOVED
  const declared = node.keys
  let out: Record<string, unknown> | null = null
  for (let i = 0; i < length; i++) {
    const key = keys[i]!
    const value = object[key]
    let r: unknown
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      // Own keys JSON.parse and form parsers create as data; whatever the rule, they never pass.
      f.forbidden = add(f.forbidden, joinPath(node.path, key))
      r = REMOVED
    } else {
      const child = declared.get(key)
      if (child !== undefined) {
        r = checkValue(child, value, f)
      } else if (node.star !== 0 && isScalar(value)) {
        r = judge(f, node, node.star, joinPath(node.path, key)) ? value : REMOVED
      } else {
        unknown(f, joinPath(node.path, key))
        r = REMOVED
      }
    }
    if (r === value) {
      if (out !== null) out[key] = value
      continue
    }
    if (out === null) {
      // A plain object literal: the keys copied passed the check above, none is `__proto__`.
      out = {}
      for (let j = 0; j < i; j++) out[keys[j]!] = object[keys[j]!]
    }
    if (r !== REMOVED) out[key] = r
  }
  if (out === null) return object
  // As for arrays: an object emptied by the check must be writable empty.
  return judge(f, node, node.reach, node.path) ? out : REMOVED
}
