import type { PortcullisConfigError } from '@portcullis/core'
import { isPortcullisConfigError } from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import { resolvePolicies } from './named-policies.js'

function optionsError(policies: Record<string, unknown>): PortcullisConfigError {
  try {
    resolvePolicies(policies)
  } catch (err) {
    if (isPortcullisConfigError(err)) return err
    throw err
  }
  throw new Error('expected PCL_INVALID_OPTIONS')
}

describe('resolvePolicies', () => {
  it('resolves each policy once, over the chain it extends, whatever the declaration order', () => {
    const resolved = resolvePolicies({
      own: { extends: 'read', claims: { sub: { param: 'id' } } },
      read: { extends: 'base', scopes: ['videos:read'] },
      base: { authenticated: true, callers: ['search-svc'] },
    })
    expect([...resolved.keys()].sort()).toEqual(['base', 'own', 'read'])
    const own = resolved.get('own')!
    expect(own.allOf).toEqual(['videos:read'])
    expect(own.callers).toEqual(['search-svc'])
    expect(own.claims).toEqual({ sub: { param: 'id' } })
    expect(Object.isFrozen(own)).toBe(true)
  })

  it('no policies: an empty map', () => {
    expect(resolvePolicies(undefined).size).toBe(0)
    expect(resolvePolicies({}).size).toBe(0)
  })

  it.each([
    [
      'a cycle, with its path',
      { a: { extends: 'b', scopes: ['x'] }, b: { extends: 'c' }, c: { extends: 'a' } },
      'policies.a.extends',
      'policies.a.extends forms a cycle (a -> b -> c -> a)',
    ],
    [
      'a policy extending itself',
      { a: { extends: 'a', scopes: ['x'] } },
      'policies.a.extends',
      'policies.a.extends forms a cycle (a -> a)',
    ],
    [
      'an unknown base',
      { a: { extends: 'nope', scopes: ['x'] } },
      'policies.a.extends',
      "policies.a.extends names no registered policy 'nope'",
    ],
    [
      "an inherited member's name as a base",
      { a: { extends: 'toString', scopes: ['x'] } },
      'policies.a.extends',
      "policies.a.extends names no registered policy 'toString'",
    ],
  ])('refuses %s as an option error naming the field', (_name, policies, field, message) => {
    const err = optionsError(policies)
    expect(err.code).toBe('PCL_INVALID_OPTIONS')
    expect(err.field).toBe(field)
    expect(err.message).toBe(message)
  })

  it('reports an invalid policy as an option of the plugin, not as a route', () => {
    const err = optionsError({ good: { scopes: ['x'] }, bad: { scopes: [] } })
    expect(err.code).toBe('PCL_INVALID_OPTIONS')
    expect(err.field).toBe('policies.bad.scopes')
    expect(err.message.startsWith('policies.bad.scopes ')).toBe(true)
    expect(err.message).not.toContain('policies.bad: ')
    expect(isPortcullisConfigError(err.cause)).toBe(true)
    expect((err.cause as PortcullisConfigError).code).toBe('PCL_INVALID_GUARD')
  })

  it('reports a policy that loosens the one it extends as an option of the plugin', () => {
    const err = optionsError({
      strict: { callers: ['a'] },
      loose: { extends: 'strict', callers: ['a', 'b'] },
    })
    expect(err.code).toBe('PCL_INVALID_OPTIONS')
    expect(err.field).toBe('policies.loose.callers')
    expect(err.message).toBe(
      "policies.loose.callers adds callers 'b' that policy 'strict' does not allow: a guard may narrow callers, not widen them",
    )
  })
})
