import { expectTypeOf } from 'vitest'
import { z } from 'zod'
import type { CompiledAllowlist, ProjectionResult } from './compile-allowlist.js'
import type { Principal } from '@portcullis/core'
import type { OwnerCheck } from './owner-spec.js'
import type { ResponseSpec } from './response-spec.js'

// What routes declare type-checks as written in the docs.
expectTypeOf({
  allow: ['id', 'owner.id', 'tags[]', 'items[].title', 'stats.*'],
  byScope: { 'videos:read:internal': ['uploadIp'] },
  byStatus: { '404': ['code'], '4xx': ['title'] },
  maxItems: { default: 100, paths: { 'items[]': 50 }, byScope: { 'videos:bulk': 1000 } },
  mode: 'reject' as const,
}).toExtend<ResponseSpec>()
expectTypeOf({ allow: ['[].id'], maxItems: 50 }).toExtend<ResponseSpec>()
expectTypeOf({
  allow: z.object({ id: z.string(), tags: z.array(z.string()) }),
}).toExtend<ResponseSpec>()
expectTypeOf({ allow: z.looseObject({ id: z.string() }) }).toExtend<ResponseSpec>()
expectTypeOf<'schema'>().toExtend<ResponseSpec>()
expectTypeOf({ passthrough: 'a video stream' }).toExtend<ResponseSpec>()

expectTypeOf({ allow: z.string() }).not.toExtend<ResponseSpec>()
expectTypeOf({ allow: ['id'], mode: 'drop' as const }).not.toExtend<ResponseSpec>()

// A result is either a body or an error, never both.
declare const result: ProjectionResult
if (result.ok) expectTypeOf(result.removed).toEqualTypeOf<readonly string[]>()
else expectTypeOf(result).not.toHaveProperty('value')
expectTypeOf<CompiledAllowlist['mode']>().toEqualTypeOf<'strip' | 'reject' | 'passthrough'>()

// guard.response.owner: a claim, a check on an array, or a function alone.
expectTypeOf({
  allow: ['items[].id', 'items[].ownerId'],
  owner: { path: 'items[].ownerId', claim: 'sub', mode: 'reject' as const },
}).toExtend<ResponseSpec>()
expectTypeOf({
  allow: ['items[].id'],
  owner: { path: 'items[]', check: (item: unknown, p: Principal) => p.subject === String(item) },
}).toExtend<ResponseSpec>()
expectTypeOf<OwnerCheck>().parameter(1).toEqualTypeOf<Principal>()
expectTypeOf({
  allow: ['[].id'],
  owner: { path: '[].id', claim: 'sub', mode: 'drop' as const },
}).not.toExtend<ResponseSpec>()
expectTypeOf({ allow: ['[].id'], owner: { path: '[].id' } }).not.toExtend<ResponseSpec>()
declare const owned: ProjectionResult
if (owned.ok) expectTypeOf(owned.notOwned).toEqualTypeOf<number | undefined>()
