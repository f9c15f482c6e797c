import { type AuditSink, type TelemetryOptions } from '@portcullis/core'
import { createTelemetry, invalidOptionsError, type Telemetry } from '@portcullis/core/internal'
import { z } from 'zod'

/** Options of the allowlist plugin (passed through by `@portcullis/fastify` as `response`). */
export interface AllowlistPluginOptions {
  /**
   * `true` (default): every guarded route must declare `guard.response` (an allowlist, `'schema'`
   * or `{ passthrough: '<reason>' }`) or startup fails: deny by default, as for access.
   * `false` relaxes the rule for adoption; routes without an allowlist are flagged in the
   * inventory and their error bodies are still reduced to problem+json fields.
   */
  requireResponse?: boolean
  /**
   * `true`: every guarded route that accepts a body (POST, PUT, PATCH) must declare
   * `guard.body` (a rule, or `{ passthrough: '<reason>' }`) or startup fails, naming every such
   * route. Default `false`: such routes start, and the inventory flags each of them
   * (`NONE: request bodies are not allowlisted`).
   */
  requireBody?: boolean
  /** Largest serialized body (bytes) the guard parses to project; larger ones are refused. Default 1 MiB. */
  maxBodyBytes?: number
  /** Audit sink; default: the request's logger. */
  audit?: AuditSink
  /** `realm` for challenges (unused by this plugin's 500s, kept for one options shape). */
  realm?: string
  /** OpenTelemetry metrics and spans of the projection; see `GuardOptions.telemetry`. */
  telemetry?: TelemetryOptions
}

/** The zod schema of the allowlist options (`response` in the adapters' options). */
export const allowlistOptionsSchema = z
  .object({
    requireResponse: z.boolean().optional(),
    requireBody: z.boolean().optional(),
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .optional(),
    audit: z.custom<AuditSink>((v) => typeof v === 'function', 'must be a function').optional(),
    realm: z.string().optional(),
    telemetry: z.unknown().optional(),
  })
  .strict()

/** The resolved allowlist plugin options. */
export interface ResolvedAllowlistOptions {
  readonly requireResponse: boolean
  readonly requireBody: boolean
  readonly maxBodyBytes: number
  readonly audit: AuditSink | undefined
  readonly realm: string | undefined
  /** OpenTelemetry instruments of the projection (`telemetry`). */
  readonly telemetry: Telemetry
}

/** Validates the plugin options once; a bad one throws `PCL_INVALID_OPTIONS` naming it. */
export function resolveAllowlistOptions(options: unknown): ResolvedAllowlistOptions {
  const parsed = allowlistOptionsSchema.safeParse(options ?? {})
  if (!parsed.success) throw invalidOptionsError(parsed.error.issues, 'response', parsed.error)
  return Object.freeze({
    requireResponse: parsed.data.requireResponse ?? true,
    requireBody: parsed.data.requireBody ?? false,
    maxBodyBytes: parsed.data.maxBodyBytes ?? 1024 * 1024,
    audit: parsed.data.audit,
    realm: parsed.data.realm,
    telemetry: createTelemetry(parsed.data.telemetry),
  })
}
