import { PortcullisConfigError, type AuditSink, type GuardOptions } from '@portcullis/core'
import { invalidOptionsError } from '@portcullis/core/internal'
import { openApiOptionsSchema, type OpenApiOptions } from '@portcullis/policy/internal'
import { resourceMetadataSchema } from '@portcullis/tokens/internal'
// The packages whose augmentations of `GuardOptions` make up these options.
import type {} from '@portcullis/allowlist'
import type {} from '@portcullis/policy'
import type {} from '@portcullis/rate-limit'
import type {} from '@portcullis/tokens'
import { z } from 'zod'

/**
 * Options of the Portcullis Fastify plugin: the guard's options (`GuardOptions`, the same as
 * `@portcullis/express`'s, each field documented by the package it configures) and
 * `unguardedRoutes`.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/fastify.md
 */
export interface PortcullisOptions extends GuardOptions {
  /**
   * `'fail'` (default): `app.ready()` rejects when a route has no guard. `'deny'`: start, log
   * the list, and refuse those routes with 403 at run time (for gradual adoption).
   */
  unguardedRoutes?: 'fail' | 'deny'
  /**
   * With `@fastify/swagger` registered, each guard is written into its operation of the
   * generated document (`app.swagger()`): the security requirement (`security: []` on public
   * routes), the 401, 403 and 429 problem+json responses, and with `narrowResponses` the 200
   * schema from the allowlist. On by default; `false` leaves the document as generated.
   *
   * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/openapi.md
   */
  openapi?: OpenApiOptions | false
}

const schema = z
  .object({
    tokens: z.record(z.string(), z.unknown(), { error: 'is required (an object)' }),
    audit: z.custom<AuditSink>((v) => typeof v === 'function', 'must be a function').optional(),
    unguardedRoutes: z.enum(['fail', 'deny']).optional(),
    unknownRoutes: z.enum(['unauthorized', 'not-found']).optional(),
    policies: z.record(z.string(), z.unknown()).optional(),
    reportOnly: z.union([z.boolean(), z.literal('including-tokens')]).optional(),
    rateLimit: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
    response: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
    requireBody: z.boolean({ error: 'must be a boolean' }).optional(),
    knownScopes: z.array(z.string()).optional(),
    callbackTimeout: z.union([z.number(), z.string()]).optional(),
    classify: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
    telemetry: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
    resourceMetadata: resourceMetadataSchema.optional(),
    openapi: z.union([z.literal(false), openApiOptionsSchema]).optional(),
  })
  .strict()

/** Validates the top level of the options; `tokens` is validated by `@portcullis/tokens`. */
export function resolveOptions(options: unknown): PortcullisOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new PortcullisConfigError('PCL_INVALID_OPTIONS', 'portcullis options must be an object')
  }
  const parsed = schema.safeParse(options)
  if (!parsed.success) {
    throw invalidOptionsError(parsed.error.issues, '', parsed.error)
  }
  return options as PortcullisOptions
}
