import {
  context,
  createNoopMeter,
  metrics,
  ProxyTracerProvider,
  SpanStatusCode,
  trace,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type Span,
  type Tracer,
} from '@opentelemetry/api'
import { errorCodes, isErrorCode } from '../errors/index.js'
import type { Principal } from '../principal.js'
import type { Answer, Pending } from '../runtime/answer.js'
import type { RequestView } from '../runtime/request-view.js'
import type { Step } from '../runtime/steps.js'
import { resolveTelemetryOptions } from './telemetry-options.js'

/** The instrumentation scope of every meter and tracer of the guard. */
export const TELEMETRY_SCOPE = 'portcullis'

/** Instrument names: `portcullis.*` where the OpenTelemetry conventions have none. */
export const INSTRUMENTS = Object.freeze({
  decisions: 'portcullis.decisions',
  duration: 'portcullis.guard.duration',
  verifications: 'portcullis.token.verifications',
  jwksFetches: 'portcullis.jwks.fetches',
  limitRefusals: 'portcullis.limit.refusals',
  fieldsRemoved: 'portcullis.allowlist.fields_removed',
  responsesRefused: 'portcullis.allowlist.refusals',
  storeErrors: 'portcullis.store.errors',
})

/** Span names, one per step of the guard. */
export const SPANS = Object.freeze({
  authenticate: 'portcullis.authenticate',
  decide: 'portcullis.decide',
  rateLimit: 'portcullis.rate_limit',
  enumeration: 'portcullis.enumeration',
  budget: 'portcullis.budget',
  lockout: 'portcullis.lockout',
  project: 'portcullis.project',
})

/** A span of the guard (an OpenTelemetry `Span`), for the packages that end their own. */
export type GuardSpan = Span

/** The name of one of the guard's spans. */
export type SpanName = (typeof SPANS)[keyof typeof SPANS]

// Attribute keys: OpenTelemetry semantic conventions where one fits.
const ROUTE = 'http.route'
const METHOD = 'http.request.method'
const STATUS = 'http.response.status_code'
const ERROR_TYPE = 'error.type'
const DECISION = 'portcullis.decision'
const REASON = 'portcullis.reason'

// Semantic conventions: a method outside the known set is reported as `_OTHER` (bounded).
const KNOWN_METHODS = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
  'QUERY',
])

function methodOf(method: string): string {
  return KNOWN_METHODS.has(method) ? method : '_OTHER'
}

// Refusals of the limits, by the code of their 429.
const LIMIT_KINDS: Readonly<Record<string, string>> = {
  PCL_RATE_LIMITED: 'rate_limit',
  PCL_BUDGET_EXHAUSTED: 'budget',
  PCL_ENUMERATION: 'enumeration',
  PCL_LOCKED_OUT: 'lockout',
}

/** A decision as the decisions counter names it. */
export type DecisionOutcome = 'allowed' | 'denied' | 'reported'

/** The outcome of one token verification. */
export type VerificationResult = 'cache_hit' | 'verified' | 'refused'

/** What the guard reports, created once per app from the `telemetry` option. */
export interface Telemetry {
  /** True when a meter is live (an SDK registered): only then is per-request metric work done. */
  readonly metrics: boolean
  /** True when spans can record (an SDK registered): only then are the steps wrapped. */
  readonly tracing: boolean
  /** One decision (each audit event): the decisions counter, the duration and what it implies. */
  decision(
    view: RequestView,
    outcome: DecisionOutcome,
    reason: string,
    route: string | null,
    status: number | null,
  ): void
  /** One token verification; `issuer` only when it is a configured one. */
  verification(result: VerificationResult, issuer: string | undefined, error: unknown): void
  /** One JWKS fetch of a configured issuer: `failure` carries the reason (`timeout`, `status`). */
  jwksFetch(issuer: string, failure: string | null): void
  /** Undeclared fields the allowlist stripped from one response. */
  fieldsRemoved(view: RequestView, route: string, count: number): void
  /**
   * The step run in a span, a child of the active span when one is recording (the HTTP server
   * span); otherwise the step runs as it is, for the cost of one context lookup.
   */
  traceStep(name: SpanName, step: Step): Step
  /** A span for work that is not a step (the projection), or `undefined` when not tracing. */
  startSpan(name: SpanName, view: RequestView): GuardSpan | undefined
  /** Ends a span from `startSpan`: `refusal` is the `PCL_*` code when the work refused. */
  endSpan(span: GuardSpan, view: RequestView, refusal: string | null, status?: number): void
}

function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && isErrorCode(code)) return code
  // Never a message: it could hold request data. The class name is enough to tell bugs apart.
  return '_OTHER'
}

function baseAttributes(view: RequestView, route: string | null): Attributes {
  const attributes: Attributes = { [METHOD]: methodOf(view.method) }
  if (route !== null) attributes[ROUTE] = route
  return attributes
}

const NOOP_METER_CLASS = (createNoopMeter() as object).constructor

function meterOf(provider: { getMeter: (name: string) => Meter } | undefined): Meter | null {
  const meter = (provider ?? metrics.getMeterProvider()).getMeter(TELEMETRY_SCOPE)
  // With no SDK registered the global provider hands out the no-op meter: nothing to record.
  return meter instanceof NOOP_METER_CLASS ? null : meter
}

// The provider a proxy delegates to while no SDK is registered (this copy of the API's no-op one).
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate()

function tracerOf(provider: { getTracer: (name: string) => Tracer } | undefined): Tracer | null {
  if (provider !== undefined) return provider.getTracer(TELEMETRY_SCOPE)
  const global = trace.getTracerProvider()
  const delegate = global instanceof ProxyTracerProvider ? global.getDelegate() : global
  // No SDK registered: no span can record, so the steps are left unwrapped.
  return delegate === NOOP_TRACER_PROVIDER ? null : global.getTracer(TELEMETRY_SCOPE)
}

interface Instruments {
  readonly decisions: Counter
  readonly duration: Histogram
  readonly verifications: Counter
  readonly jwksFetches: Counter
  readonly limitRefusals: Counter
  readonly fieldsRemoved: Counter
  readonly responsesRefused: Counter
  readonly storeErrors: Counter
}

function createInstruments(meter: Meter): Instruments {
  return {
    decisions: meter.createCounter(INSTRUMENTS.decisions, {
      description: 'Access decisions of the guard (each audit event), by outcome and reason',
      unit: '{decision}',
    }),
    duration: meter.createHistogram(INSTRUMENTS.duration, {
      description: 'Time from the guard first seeing a request to each of its decisions',
      unit: 's',
      advice: {
        explicitBucketBoundaries: [
          0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
        ],
      },
    }),
    verifications: meter.createCounter(INSTRUMENTS.verifications, {
      description: 'Access-token verifications, by result (cache_hit, verified, refused)',
      unit: '{verification}',
    }),
    jwksFetches: meter.createCounter(INSTRUMENTS.jwksFetches, {
      description: 'JWKS fetches, by issuer and outcome',
      unit: '{fetch}',
    }),
    limitRefusals: meter.createCounter(INSTRUMENTS.limitRefusals, {
      description:
        'Requests refused (or reported) by a rate limit, budget, enumeration limit or lockout',
      unit: '{request}',
    }),
    fieldsRemoved: meter.createCounter(INSTRUMENTS.fieldsRemoved, {
      description:
        'Undeclared response fields the allowlist stripped (distinct paths per response)',
      unit: '{field}',
    }),
    responsesRefused: meter.createCounter(INSTRUMENTS.responsesRefused, {
      description: 'Responses the allowlist refused to let out',
      unit: '{response}',
    }),
    storeErrors: meter.createCounter(INSTRUMENTS.storeErrors, {
      description: 'Requests that met a store outage (Redis), by the fail mode applied',
      unit: '{request}',
    }),
  }
}

function callerAttributes(
  span: Span,
  principal: Principal | null,
  subject: boolean,
  clientId: boolean,
): void {
  if (principal === null) return
  if (subject) span.setAttribute('enduser.id', principal.subject)
  if (clientId && principal.clientId !== null) {
    span.setAttribute('portcullis.client_id', principal.clientId)
  }
}

const kTelemetry = Symbol.for('portcullis.telemetry')

/** Telemetry that does nothing: `telemetry: { enabled: false }`, or no SDK registered. */
export const NO_TELEMETRY: Telemetry = Object.freeze({
  [kTelemetry]: true,
  metrics: false,
  tracing: false,
  decision() {},
  verification() {},
  jwksFetch() {},
  fieldsRemoved() {},
  traceStep: (_name: SpanName, step: Step) => step,
  startSpan: () => undefined,
  endSpan() {},
})

/**
 * Creates the telemetry of one app from the `telemetry` option (validated now: a bad one throws
 * `PCL_INVALID_OPTIONS` naming `field`), or returns `input` when it is a telemetry already.
 * Instruments are created here, once; per request there is only the recording, and nothing at
 * all without an SDK registered when the app is created.
 */
export function createTelemetry(input: unknown, field = 'telemetry'): Telemetry {
  // One app's telemetry handed on from the package that created it (the adapters share one).
  if ((input as { [kTelemetry]?: unknown } | null)?.[kTelemetry] === true) return input as Telemetry
  const options = resolveTelemetryOptions(input, field)
  if (!options.enabled) return NO_TELEMETRY
  const meter = meterOf(options.meterProvider)
  const instruments = meter === null ? null : createInstruments(meter)
  const tracer = tracerOf(options.tracerProvider)
  if (instruments === null && tracer === null) return NO_TELEMETRY
  const { subject, clientId } = options

  function decision(
    view: RequestView,
    outcome: DecisionOutcome,
    reason: string,
    route: string | null,
    status: number | null,
  ): void {
    const span = tracer === null ? undefined : trace.getActiveSpan()
    if (span?.isRecording() === true) {
      const event: Attributes = { [DECISION]: outcome, [REASON]: reason }
      if (outcome !== 'allowed') event[ERROR_TYPE] = reason
      span.addEvent('portcullis.decision', event)
    }
    if (instruments === null) return
    const attributes = baseAttributes(view, route)
    attributes[DECISION] = outcome
    attributes[REASON] = reason
    if (outcome !== 'allowed') attributes[ERROR_TYPE] = reason
    if (status !== null && outcome === 'denied') attributes[STATUS] = status
    instruments.decisions.add(1, attributes)
    if (view.start > 0) {
      instruments.duration.record((performance.now() - view.start) / 1000, attributes)
    }
    const limit = LIMIT_KINDS[reason]
    if (limit !== undefined) {
      const limitAttributes = baseAttributes(view, route)
      limitAttributes['portcullis.limit.kind'] = limit
      limitAttributes[DECISION] = outcome
      limitAttributes[ERROR_TYPE] = reason
      instruments.limitRefusals.add(1, limitAttributes)
    } else if (reason === 'PCL_STORE_UNAVAILABLE') {
      const storeAttributes = baseAttributes(view, route)
      // An allow with this reason is fail-open applied; a refusal, fail-closed.
      storeAttributes['portcullis.store.fail_mode'] = outcome === 'allowed' ? 'open' : 'closed'
      storeAttributes[ERROR_TYPE] = reason
      instruments.storeErrors.add(1, storeAttributes)
    } else if (outcome !== 'allowed' && isErrorCode(reason)) {
      if (errorCodes[reason].kind === 'response') {
        const refusedAttributes = baseAttributes(view, route)
        refusedAttributes[ERROR_TYPE] = reason
        instruments.responsesRefused.add(1, refusedAttributes)
      }
    }
  }

  function verification(
    result: VerificationResult,
    issuer: string | undefined,
    error: unknown,
  ): void {
    if (instruments === null) return
    const attributes: Attributes = { 'portcullis.token.result': result }
    if (issuer !== undefined) attributes['portcullis.token.issuer'] = issuer
    if (result === 'refused') attributes[ERROR_TYPE] = errorType(error)
    instruments.verifications.add(1, attributes)
  }

  function jwksFetch(issuer: string, failure: string | null): void {
    if (instruments === null) return
    const attributes: Attributes = {
      'portcullis.token.issuer': issuer,
      'portcullis.jwks.outcome': failure === null ? 'success' : 'failure',
    }
    if (failure !== null) attributes[ERROR_TYPE] = failure
    instruments.jwksFetches.add(1, attributes)
  }

  function fieldsRemoved(view: RequestView, route: string, count: number): void {
    if (instruments === null || count === 0) return
    instruments.fieldsRemoved.add(count, baseAttributes(view, route))
  }

  function startSpan(name: SpanName, view: RequestView): Span | undefined {
    if (tracer === null) return undefined
    const active = context.active()
    const parent = trace.getSpan(active)
    if (parent === undefined || !parent.isRecording()) return undefined
    return tracer.startSpan(name, { attributes: baseAttributes(view, view.route) }, active)
  }

  function endSpan(span: Span, view: RequestView, refusal: string | null, status?: number): void {
    callerAttributes(span, view.principal, subject, clientId)
    if (refusal !== null) {
      span.setAttribute(ERROR_TYPE, refusal)
      if (status !== undefined) span.setAttribute(STATUS, status)
      span.setStatus({ code: SpanStatusCode.ERROR })
    }
    span.end()
  }

  function settled(span: Span, view: RequestView, answer: Answer): Answer {
    if (answer === null) endSpan(span, view, null)
    else endSpan(span, view, answer.body.code, answer.status)
    return answer
  }

  function failed(span: Span, view: RequestView, err: unknown): never {
    // No exception event: its message could hold request data; the code or `_OTHER` only.
    endSpan(span, view, errorType(err))
    throw err
  }

  function traceStep(name: SpanName, step: Step): Step {
    if (tracer === null) return step
    return function portcullisTracedStep(view) {
      const span = startSpan(name, view)
      if (span === undefined) return step(view)
      let answer: Pending
      try {
        answer = context.with(trace.setSpan(context.active(), span), step, undefined, view)
      } catch (err) {
        return failed(span, view, err)
      }
      if (!(answer instanceof Promise)) return settled(span, view, answer)
      return answer.then(
        (done) => settled(span, view, done),
        (err: unknown) => failed(span, view, err),
      )
    }
  }

  return Object.freeze({
    [kTelemetry]: true,
    metrics: instruments !== null,
    tracing: tracer !== null,
    decision,
    verification,
    jwksFetch,
    fieldsRemoved,
    traceStep,
    startSpan,
    endSpan,
  })
}
