import { expectTypeOf } from 'vitest'
import { z } from 'zod'
import type { CompiledAllowlist, ProjectionResult } from './compile-allowlist.js'
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
