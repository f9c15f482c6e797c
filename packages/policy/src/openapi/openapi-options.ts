import { invalidOptionsError } from '@portcullis/core/internal'
import { z } from 'zod'

/**
 * How the guards are written into an OpenAPI document: by `@portcullis/fastify` into the
 * document of `@fastify/swagger` (its `openapi` option), by `@portcullis/express` into the
 * fragment `guard.openapi()` returns.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/openapi.md
 */
export interface OpenApiOptions {
  /**
   * The name of the security scheme (in `components.securitySchemes`) of guarded operations.
   * Default: the document's only `oauth2` or `openIdConnect` scheme when it declares one, else
   * `'bearerAuth'`, an HTTP bearer (JWT) scheme added to the document.
   */
  securityScheme?: string
  /**
   * List each route's scopes in its security requirement. Default: true for `oauth2` and
   * `openIdConnect` schemes (and for a named scheme of a fragment), false for the bearer scheme
   * (OpenAPI 3.0 requires an empty list for schemes without scopes).
   */
  scopes?: boolean
  /**
   * Describe the 200 response of a route that declares no response schema by its allowlist:
   * the fields that can leave, nested as they are, each array capped by `maxItems`. Default false.
   */
  narrowResponses?: boolean
}

/** The zod schema of {@link OpenApiOptions}. */
export const openApiOptionsSchema = z.strictObject(
  {
    // OpenAPI 3 §4.8.7.1: component names match ^[a-zA-Z0-9.\-_]+$.
    securityScheme: z
      .string({ error: 'must be a string' })
      .regex(/^[A-Za-z0-9._-]{1,64}$/u, 'must be a component name (letters, digits, . - _)')
      .optional(),
    scopes: z.boolean({ error: 'must be a boolean' }).optional(),
    narrowResponses: z.boolean({ error: 'must be a boolean' }).optional(),
  },
  { error: 'must be an object' },
)

/** Validates {@link OpenApiOptions}; a bad one throws `PCL_INVALID_OPTIONS` naming the field. */
export function resolveOpenApiOptions(options: unknown, prefix: string): OpenApiOptions {
  const parsed = openApiOptionsSchema.safeParse(options ?? {})
  if (!parsed.success) throw invalidOptionsError(parsed.error.issues, prefix, parsed.error)
  return parsed.data as OpenApiOptions
}
