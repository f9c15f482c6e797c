// A separate compilation: declaring KnownScopes is global, so it must not leak into the rest of
// the suite, where any string is a scope.
import type { RouteGuard, Scope } from '@portcullis/fastify'
import { expectTypeOf } from 'vitest'

declare module '@portcullis/policy' {
  interface KnownScopes {
    'videos:read': true
    'videos:write': true
  }
}

expectTypeOf<Scope>().toEqualTypeOf<'videos:read' | 'videos:write'>()

export const ok: RouteGuard[] = [
  { scopes: 'videos:read' },
  { scopes: ['videos:read', 'videos:write'] },
  { scopes: { allOf: ['videos:read'], anyOf: ['videos:write'] } },
]

// @ts-expect-error a misspelled scope fails to compile
export const typo: RouteGuard = { scopes: ['videos:raed'] }
// @ts-expect-error in every form
export const typo2: RouteGuard = { scopes: { anyOf: ['video:write'] } }
// @ts-expect-error and as a single string
export const typo3: RouteGuard = { scopes: 'videos:delete' }
