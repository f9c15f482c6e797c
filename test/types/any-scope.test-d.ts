// Without a KnownScopes declaration, any string is a scope.
import type { RouteGuard, Scope } from '@portcullis/fastify'
import { expectTypeOf } from 'vitest'

expectTypeOf<Scope>().toEqualTypeOf<string>()
export const anything: RouteGuard = { scopes: ['whatever:you:like'], callers: ['svc'] }
