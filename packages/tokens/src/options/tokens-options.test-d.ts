import { expectTypeOf } from 'vitest'
import type { z } from 'zod'
import type {
  introspectionIssuerSchema,
  issuerSchema,
  tokensOptionsSchema,
} from './tokens-options-schema.js'
import type {
  TokensIntrospectionIssuerOptions,
  TokensIntrospectionOptions,
  TokensIssuerOptions,
  TokensOptions,
} from './tokens-options.js'

// The documented interface and the schema must not drift: every TokensOptions is schema input.
expectTypeOf<TokensOptions>().toExtend<z.input<typeof tokensOptionsSchema>>()

// `issuers` entries are validated one by one (JWT or introspection, by the `introspection` key):
// each documented entry type must be input of its own schema.
expectTypeOf<TokensIssuerOptions>().toExtend<z.input<typeof issuerSchema>>()
expectTypeOf<TokensIntrospectionIssuerOptions>().toExtend<
  z.input<typeof introspectionIssuerSchema>
>()
expectTypeOf<TokensOptions['issuers'][number]>().toEqualTypeOf<
  TokensIssuerOptions | TokensIntrospectionIssuerOptions
>()
// An introspection issuer takes no algorithms or keys, and needs its client credentials.
expectTypeOf<{
  issuer: string
  audience: string
  introspection: { endpoint: string; clientId: string }
}>().not.toExtend<TokensIntrospectionIssuerOptions>()
expectTypeOf<TokensIntrospectionOptions['clientAuth']>().toEqualTypeOf<
  'client_secret_basic' | 'client_secret_post' | undefined
>()
