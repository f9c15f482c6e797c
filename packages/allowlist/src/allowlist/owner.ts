import { ResponseError, type Principal } from '@portcullis/core'
import type { NormalizedOwner } from './owner-spec.js'
import { ITEMS } from './path-syntax.js'

/**
 * Applies an owner rule to a projected body, in place (the projection's output is a fresh copy
 * made of plain objects and arrays): the elements of the owned arrays that do not belong to the
 * principal are removed. Returns how many were removed. Throws a `ResponseError` when a `check`
 * function throws.
 */
export type OwnerFilter = (body: unknown, principal: Principal | null) => number

const hasOwn = Object.hasOwn

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The value at `field` inside `item`, own keys only; `undefined` when any step is missing. */
function fieldOf(item: unknown, field: readonly string[]): unknown {
  let value = item
  for (let i = 0; i < field.length; i++) {
    if (!isRecord(value)) return undefined
    const key = field[i]!
    if (!hasOwn(value, key)) return undefined
    value = value[key]
  }
  return value
}

/**
 * What an owner field must equal: the claim's value, when it is a non-empty string or a finite
 * number; `undefined` (nothing belongs to the principal) otherwise. A missing claim never matches
 * a missing field.
 */
function ownerValue(principal: Principal | null, claim: string): string | number | undefined {
  if (principal === null) return undefined
  const claims = principal.claims as Record<string, unknown>
  if (!hasOwn(claims, claim)) return undefined
  const value = claims[claim]
  if (typeof value === 'string') return value.length > 0 ? value : undefined
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  return undefined
}

/** Compiles an owner rule, once, into the filter a projection runs after it. */
export function compileOwner(owner: NormalizedOwner): OwnerFilter {
  const { array, field, claim, check } = owner
  const last = array.length - 1

  // Strict equality on a string or number of the same type: `'42'` never matches `42`.
  function ownedByClaim(expected: string | number | undefined) {
    return (item: unknown) => expected !== undefined && fieldOf(item, field) === expected
  }

  function ownedByCheck(principal: Principal | null) {
    return (item: unknown) => {
      if (principal === null) return false
      let verdict: unknown
      try {
        verdict = check!(item, principal)
      } catch (cause) {
        throw new ResponseError('PCL_RESPONSE_REJECTED', {
          message: 'The owner check of guard.response.owner threw',
          cause,
        })
      }
      if (verdict instanceof Promise) verdict.catch(() => undefined)
      return verdict === true
    }
  }

  function filter(value: unknown, depth: number, owned: (item: unknown) => boolean): number {
    const segment = array[depth]
    if (segment === ITEMS) {
      if (!Array.isArray(value)) return 0
      if (depth < last) {
        let dropped = 0
        for (const element of value) dropped += filter(element, depth + 1, owned)
        return dropped
      }
      let kept = 0
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i]
        if (owned(item)) value[kept++] = item
      }
      const dropped = value.length - kept
      value.length = kept
      return dropped
    }
    if (!isRecord(value) || !hasOwn(value, segment as string)) return 0
    return filter(value[segment as string], depth + 1, owned)
  }

  return function filterOwned(body, principal) {
    const owned =
      check === null ? ownedByClaim(ownerValue(principal, claim!)) : ownedByCheck(principal)
    return filter(body, 0, owned)
  }
}
