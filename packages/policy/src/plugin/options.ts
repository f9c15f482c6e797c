import { type AuditSink, type RouteGuard, type TelemetryOptions } from '@portcullis/core'
import {
  CALLBACK_TIMEOUT_MS,
  createTelemetry,
  invalidOptionsError,
  type Telemetry,
} from '@portcullis/core/internal'
import { durationSchema } from '@portcullis/tokens/internal'
import { z } from 'zod'
import { resolvePolicies, type NormalizedGuard } from '../guard/index.js'
import { fieldClassesSchema, type FieldClasses } from '../inventory/index.js'
import type { ReportOnlySettings } from './route-hooks.js'

/** Options of the policy plugin (passed through by `@portcullis/fastify`). */
export interface PolicyPluginOptions {
  /** `realm` of `WWW-Authenticate` challenges. */
  realm?: string
  /** Audit sink; default: the request's logger (`info` for allow, `warn` for deny). */
  audit?: AuditSink
  /**
   * What to do with routes that have no `config.guard`.
   * - `'fail'` (default): `app.ready()` rejects with `PCL_UNGUARDED_ROUTE` listing them.
   * - `'deny'`: start anyway (logging the list) and refuse every request to them with 403
   *   `PCL_ROUTE_NOT_GUARDED`. For adopting Portcullis route by route; never serves them.
   */
  unguardedRoutes?: 'fail' | 'deny'
  /**
   * What an anonymous request to a URL no route matches gets.
   * - `'unauthorized'` (default): 401, so the route map cannot be enumerated without a token.
   * - `'not-found'`: a 404 to everyone.
   * Either way the guard answers the 404 itself, problem+json (`about:blank`): a custom not-found
   * handler does not run for unknown URLs, so its body never leaves. Requests with a valid token
   * always get that 404.
   */
  unknownRoutes?: 'unauthorized' | 'not-found'
  /** Named guards a route can build on with `extends: '<name>'` (and tighten, never loosen). */
  policies?: Record<string, RouteGuard>
  /**
   * Report-only rollout: evaluate every rule and emit the audit events a denial would, but serve
   * the request. A route's `guard.reportOnly` overrides it either way. Requests without a token
   * are still refused unless this is `'including-tokens'` (the tokens plugin then needs its own
   * `reportOnly: true` for invalid tokens; `@portcullis/fastify` passes it). The inventory marks
   * report-only routes. Default `false`.
   */
  reportOnly?: boolean | 'including-tokens'
  /**
   * Every scope the application uses. When given, a guard (or a response `byScope`) naming
   * another scope fails startup: the run-time counterpart of the `KnownScopes` type.
   */
  knownScopes?: readonly string[]
  /**
   * How long an async `guard.check` may take: past it the request is refused (503
   * `PCL_CHECK_UNAVAILABLE`, audited) rather than held. Milliseconds or a duration string;
   * default `1000` (1 s), at most 60 s.
   */
  callbackTimeout?: number | string
  /**
   * Field classes for the exposure register: a field path (`'owner.email'`,
   * `'items[].watchedAt'`) or a field name (`'uploadIp'`, at any depth) mapped to its class
   * (`'pii'`, `'internal'`, or a class of your own). A route's `guard.response.classify` adds to
   * it. `portcullis audit` fails when a `pii` field can leave a public route or a route that
   * requires no scope or caller.
   */
  classify?: Record<string, string>
  /** OpenTelemetry metrics and spans of the decisions; see `GuardOptions.telemetry`. */
  telemetry?: TelemetryOptions
  /**
   * The URL of the resource's RFC 9728 metadata, sent as `resource_metadata` in every challenge
   * this plugin answers (RFC 9728 §5.1). `@portcullis/fastify` sets it from its
   * `resourceMetadata` option.
   */
  resourceMetadataUrl?: string
}

/**
 * The zod schema of the policy options: unknown keys refused. Its fields are reused by the
 * adapters' own option schemas (`unknownRoutes`, `reportOnly`, `knownScopes`...).
 */
export const policyOptionsSchema = z
  .object({
    realm: z.string().max(200).optional(),
    audit: z.custom<AuditSink>((v) => typeof v === 'function', 'must be a function').optional(),
    unguardedRoutes: z.enum(['fail', 'deny']).optional(),
    unknownRoutes: z.enum(['unauthorized', 'not-found']).optional(),
    policies: z.record(z.string().min(1), z.unknown()).optional(),
    reportOnly: z.union([z.boolean(), z.literal('including-tokens')]).optional(),
    knownScopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/u, 'must be a scope token'))
      .min(1)
      .optional(),
    callbackTimeout: durationSchema('ms', 1, 60_000).optional(),
    classify: fieldClassesSchema.optional(),
    telemetry: z.unknown().optional(),
    resourceMetadataUrl: z.url({ protocol: /^https?$/u }).optional(),
  })
  .strict()

/** The resolved, frozen policy options. */
export interface ResolvedPolicyOptions {
  readonly realm: string | undefined
  readonly audit: AuditSink | undefined
  readonly unguardedRoutes: 'fail' | 'deny'
  readonly unknownRoutes: 'unauthorized' | 'not-found'
  readonly policies: ReadonlyMap<string, NormalizedGuard>
  readonly reportOnly: ReportOnlySettings
  readonly knownScopes: ReadonlySet<string> | undefined
  /** Milliseconds an async `check` may take. */
  readonly callbackTimeout: number
  /** The application's field classes (`classify`), frozen; `{}` without the option. */
  readonly classify: FieldClasses
  /** OpenTelemetry instruments of the decisions (`telemetry`). */
  readonly telemetry: Telemetry
  readonly resourceMetadataUrl: string | undefined
}

/** Validates policy plugin options once; a bad option throws `PCL_INVALID_OPTIONS` naming it. */
export function resolvePolicyOptions(options: unknown): ResolvedPolicyOptions {
  const parsed = policyOptionsSchema.safeParse(options ?? {})
  if (!parsed.success) {
    throw invalidOptionsError(parsed.error.issues, 'policy', parsed.error)
  }
  const o = parsed.data
  return Object.freeze({
    realm: o.realm,
    audit: o.audit,
    unguardedRoutes: o.unguardedRoutes ?? 'fail',
    unknownRoutes: o.unknownRoutes ?? 'unauthorized',
    policies: resolvePolicies(o.policies),
    reportOnly: Object.freeze({
      policy: o.reportOnly === true || o.reportOnly === 'including-tokens',
      tokens: o.reportOnly === 'including-tokens',
    }),
    knownScopes: o.knownScopes === undefined ? undefined : new Set(o.knownScopes),
    callbackTimeout: o.callbackTimeout ?? CALLBACK_TIMEOUT_MS,
    classify: Object.freeze({ ...o.classify }),
    telemetry: createTelemetry(o.telemetry),
    resourceMetadataUrl: o.resourceMetadataUrl,
  })
}
