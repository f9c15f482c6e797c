import type { Egress } from '@portcullis/core/internal'

/**
 * The items a projected body carries: the array at `path` (`[]`: the top-level array), or, with
 * no path, a top-level array's length, or the summed lengths of the arrays directly under a
 * top-level object (an object without one is one item). Nothing (`null`) is none.
 */
export function countItems(value: unknown, path: readonly string[] | null): number {
  if (value === null || value === undefined) return 0
  if (path !== null) {
    let at: unknown = value
    for (const name of path) {
      if (typeof at !== 'object' || at === null || Array.isArray(at)) return 0
      at = (at as Record<string, unknown>)[name]
    }
    if (Array.isArray(at)) return at.length
    return at === undefined || at === null ? 0 : 1
  }
  if (Array.isArray(value)) return value.length
  if (typeof value !== 'object') return 1
  let items = 0
  let arrays = false
  for (const key in value) {
    const field = (value as Record<string, unknown>)[key]
    if (Array.isArray(field)) {
      arrays = true
      items += field.length
    }
  }
  return arrays ? items : 1
}

/** The bytes of a body as it leaves: its serialized text, or the value serialized as JSON. */
export function countBytes(sent: Egress): number {
  if (sent.text !== undefined) return Buffer.byteLength(sent.text)
  const text = JSON.stringify(sent.value) as string | undefined
  return text === undefined ? 0 : Buffer.byteLength(text)
}
