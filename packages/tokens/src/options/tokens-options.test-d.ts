import { expectTypeOf } from 'vitest'
import type { z } from 'zod'
import type { tokensOptionsSchema } from './tokens-options-schema.js'
import type { TokensOptions } from './tokens-options.js'

// The documented interface and the schema must not drift: every TokensOptions is schema input.
expectTypeOf<TokensOptions>().toExtend<z.input<typeof tokensOptionsSchema>>()
