import { PortcullisConfigError, type AuditSink, type GuardOptions } from '@portcullis/core'
import type {} from '@portcullis/allowlist'
import type {} from '@portcullis/policy'
import type {} from '@portcullis/rate-limit'
import type {} from '@portcullis/tokens'
import { createTelemetry, invalidOptionsError, type Telemetry } from '@portcullis/core/internal'
import { allowlistOptionsSchema, resolveAllowlistOptions } from '@portcullis/allowlist/internal'
import type { FieldClasses, NormalizedGuard, ReportOnlySettings } from '@portcullis/policy'
import { policyOptionsSchema, resolvePolicyOptions } from '@portcullis/policy/internal'
import type { ResolvedRateLimitOptions } from '@portcullis/rate-limit/internal'
import {
  preAuthOf,
  withoutPreAuth,
  rateLimitOptionsSchema,
  resolveRateLimitOptions,
} from '@portcullis/rate-limit/internal'
import type { PreAuthLimiter, TokensOptions } from '@portcullis/tokens'
import {
  resolveResourceMetadata,
  resourceMetadataSchema,
  tokensOptionsSchema,
  type ResolvedResourceMetadata,
} from '@portcullis/tokens/internal'
import { z } from 'zod'
import { consoleLogger, type GuardLogger } from './logger.js'

/**
 * The options of a guard built on the runtime: the guard's options (`GuardOptions`, those of
 * `@portcullis/fastify`, validated by the same schemas), and `logger` for a framework that has
 * none of its own (Express).
 */
export interface RuntimeOptions extends GuardOptions {
  /**
   * A pino-style logger (`pino()`, or `pino-http`'s) for the guard's lines: decisions when there
   * is no `audit` sink (allow at `info`, deny at `warn`), outages and unexpected errors. Default:
   * the console, warnings and errors only.
   */
  logger?: GuardLogger
}

const METHODS = ['info', 'warn', 'error'] as const

const loggerSchema = z.custom<GuardLogger>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    METHODS.every((name) => typeof (value as Record<string, unknown>)[name] === 'function'),
  { error: 'must be a pino-style logger with info, warn and error methods' },
)

const policy = policyOptionsSchema.shape

// The options of every package, reused as they are so that both adapters accept and refuse the
// same values with the same messages; only the composition is ours.
const optionsSchema = z.strictObject(
  {
    tokens: tokensOptionsSchema,
    audit: policy.audit,
    logger: loggerSchema.optional(),
    unknownRoutes: policy.unknownRoutes,
    policies: policy.policies,
    reportOnly: policy.reportOnly,
    rateLimit: rateLimitOptionsSchema.optional(),
    response: allowlistOptionsSchema.pick({ requireResponse: true, maxBodyBytes: true }).optional(),
    requireBody: allowlistOptionsSchema.shape.requireBody,
    knownScopes: policy.knownScopes,
    callbackTimeout: policy.callbackTimeout,
    classify: policy.classify,
    telemetry: policy.telemetry,
    resourceMetadata: resourceMetadataSchema.optional(),
  },
  { error: 'must be an object' },
)

/** The options, validated once, with defaults applied. */
export interface ResolvedOptions {
  readonly tokens: TokensOptions
  readonly audit: AuditSink | undefined
  readonly log: GuardLogger
  readonly unknownRoutes: 'unauthorized' | 'not-found'
  readonly policies: ReadonlyMap<string, NormalizedGuard>
  readonly reportOnly: ReportOnlySettings
  readonly knownScopes: ReadonlySet<string> | undefined
  /** Milliseconds an async `check` may take. */
  readonly callbackTimeout: number
  /** Field classes for the register (`classify`). */
  readonly classify: FieldClasses
  /** `undefined` without the `rateLimit` option. */
  readonly rateLimit: ResolvedRateLimitOptions | undefined
  readonly preAuth: PreAuthLimiter | undefined
  readonly requireResponse: boolean
  readonly maxBodyBytes: number
  /** Routes that accept a body must declare `guard.body`. */
  readonly requireBody: boolean
  /** The app's OpenTelemetry instruments, shared by every step. */
  readonly telemetry: Telemetry
  /** `resourceMetadata`, resolved; `undefined` without the option. */
  readonly resourceMetadata: ResolvedResourceMetadata | undefined
}

/**
 * Validates a guard's options once; a bad one throws `PCL_INVALID_OPTIONS` naming the field
 * (`tokens.issuers[0].algorithms: ...`, `rateLimit.max: ...`).
 */
export function resolveOptions(input: unknown): ResolvedOptions {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new PortcullisConfigError('PCL_INVALID_OPTIONS', 'portcullis options must be an object')
  }
  const parsed = optionsSchema.safeParse(input)
  if (!parsed.success) throw invalidOptionsError(parsed.error.issues, '', parsed.error)
  // The schemas normalise some values (time windows to milliseconds); each package's resolver
  // takes the options as the user wrote them, as the Fastify plugin passes them.
  const options = input as RuntimeOptions
  const telemetry = createTelemetry(options.telemetry)
  const audit = options.audit
  const realm = options.tokens.realm
  let rateLimit: ResolvedRateLimitOptions | undefined
  let preAuth: PreAuthLimiter | undefined
  if (options.rateLimit !== undefined) {
    const limits = withoutPreAuth(options.rateLimit)
    rateLimit = resolveRateLimitOptions({
      ...limits,
      ...(audit === undefined ? {} : { audit }),
      ...(realm === undefined ? {} : { realm }),
      telemetry,
    })
    preAuth = preAuthOf(options.rateLimit)
  }
  // Each package's own resolver, as its Fastify plugin uses it: same defaults, same freezing.
  const response = resolveAllowlistOptions({
    ...options.response,
    ...(options.requireBody === undefined ? {} : { requireBody: options.requireBody }),
    telemetry,
  })
  const policy = resolvePolicyOptions({
    audit,
    realm,
    unknownRoutes: options.unknownRoutes,
    policies: options.policies,
    reportOnly: options.reportOnly,
    knownScopes: options.knownScopes,
    callbackTimeout: options.callbackTimeout,
    classify: options.classify,
    telemetry,
  })
  return Object.freeze({
    tokens: options.tokens,
    audit,
    log: options.logger ?? consoleLogger,
    unknownRoutes: policy.unknownRoutes,
    policies: policy.policies,
    reportOnly: policy.reportOnly,
    knownScopes: policy.knownScopes,
    callbackTimeout: policy.callbackTimeout,
    classify: policy.classify,
    telemetry,
    rateLimit,
    preAuth,
    requireResponse: response.requireResponse,
    maxBodyBytes: response.maxBodyBytes,
    requireBody: response.requireBody,
    resourceMetadata:
      options.resourceMetadata === undefined
        ? undefined
        : resolveResourceMetadata(options.resourceMetadata, {
            tokens: options.tokens,
            knownScopes: options.knownScopes,
          }),
  })
}
