import type { MeterProvider, TracerProvider } from '@opentelemetry/api'
import { PortcullisConfigError } from '../errors/index.js'

/**
 * Attributes that carry who made the request, on the guard's spans: off by default, since a span
 * would then hold personal data. Each one is opted into by name; metrics never carry them.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/operations.md#telemetry
 */
export interface TelemetryAttributeOptions {
  /** `enduser.id` on the guard's spans: `principal.subject`. Default `false`. */
  subject?: boolean
  /** `portcullis.client_id` on the guard's spans: `principal.clientId`. Default `false`. */
  clientId?: boolean
}

/**
 * OpenTelemetry metrics and spans of the guard, through `@opentelemetry/api` only. Without an
 * OpenTelemetry SDK registered the instruments are no-ops and the guard skips its telemetry
 * work. Metrics never carry a token, claim value, subject or field value; spans carry the
 * subject or client id only when `attributes` opts in.
 *
 * @example
 * ```ts
 * telemetry: { attributes: { subject: true } }
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/operations.md#telemetry
 */
export interface TelemetryOptions {
  /** `false` turns the guard's metrics and spans off. Default `true`. */
  enabled?: boolean
  /**
   * Where the instruments come from. Default: the global provider (`metrics.getMeterProvider()`)
   * as it is when the guard is created: register the SDK before creating the app.
   */
  meterProvider?: MeterProvider
  /**
   * Where the spans go. Default: the global provider (`trace.getTracerProvider()`), when one is
   * registered as the guard is created; without one no step is traced.
   */
  tracerProvider?: TracerProvider
  /** Attributes about the caller, each off by default (personal data). */
  attributes?: TelemetryAttributeOptions
}

/** The telemetry options, validated, with defaults applied. */
export interface ResolvedTelemetryOptions {
  readonly enabled: boolean
  readonly meterProvider: MeterProvider | undefined
  readonly tracerProvider: TracerProvider | undefined
  readonly subject: boolean
  readonly clientId: boolean
}

const KEYS = new Set(['enabled', 'meterProvider', 'tracerProvider', 'attributes'])
const ATTRIBUTE_KEYS = new Set(['subject', 'clientId'])

function invalid(field: string, message: string): PortcullisConfigError {
  return new PortcullisConfigError('PCL_INVALID_OPTIONS', `${field}: ${message}`, { field })
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function checkKeys(value: Record<string, unknown>, keys: ReadonlySet<string>, field: string) {
  for (const key of Object.keys(value)) {
    if (!keys.has(key)) throw invalid(`${field}.${key}`, 'unknown option')
  }
}

function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value
  throw invalid(field, 'must be a boolean')
}

function provider<T>(value: unknown, method: string, field: string): T | undefined {
  if (value === undefined) return undefined
  if (isObject(value) && typeof value[method] === 'function') return value as T
  throw invalid(field, `must be an OpenTelemetry provider (an object with ${method}())`)
}

/**
 * Validates the `telemetry` option (`field` names it in errors); throws `PCL_INVALID_OPTIONS`
 * naming the field.
 */
export function resolveTelemetryOptions(
  input: unknown,
  field = 'telemetry',
): ResolvedTelemetryOptions {
  if (input === undefined) input = {}
  if (!isObject(input)) throw invalid(field, 'must be an object')
  checkKeys(input, KEYS, field)
  const attributes = input.attributes ?? {}
  if (!isObject(attributes)) throw invalid(`${field}.attributes`, 'must be an object')
  checkKeys(attributes, ATTRIBUTE_KEYS, `${field}.attributes`)
  return Object.freeze({
    enabled: optionalBoolean(input.enabled, `${field}.enabled`) ?? true,
    meterProvider: provider<MeterProvider>(
      input.meterProvider,
      'getMeter',
      `${field}.meterProvider`,
    ),
    tracerProvider: provider<TracerProvider>(
      input.tracerProvider,
      'getTracer',
      `${field}.tracerProvider`,
    ),
    subject: optionalBoolean(attributes.subject, `${field}.attributes.subject`) ?? false,
    clientId: optionalBoolean(attributes.clientId, `${field}.attributes.clientId`) ?? false,
  })
}
