import { context, SpanStatusCode, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPortcullisConfigError } from '../errors/index.js'
import { renderProblem } from '../problem/index.js'
import { AuthorizationError } from '../errors/index.js'
import type { RequestView } from '../runtime/request-view.js'
import type { Step } from '../runtime/steps.js'
import { createTelemetry, NO_TELEMETRY, SPANS } from './telemetry.js'

class Reader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const manager = new AsyncLocalStorageContextManager()
beforeAll(() => {
  context.setGlobalContextManager(manager.enable())
})
afterAll(() => {
  manager.disable()
  context.disable()
})

function sdk() {
  const reader = new Reader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  })
  return {
    telemetry: createTelemetry({ meterProvider, tracerProvider }),
    tracer: tracerProvider.getTracer('test'),
    spans: () => exporter.getFinishedSpans(),
    points: async (name: string) => {
      const { resourceMetrics } = await reader.collect()
      const metric = resourceMetrics.scopeMetrics
        .flatMap((scope) => scope.metrics)
        .find((m) => m.descriptor.name === name)
      return metric?.dataPoints.map((p) => p.attributes) ?? []
    },
  }
}

function view(method = 'GET', route: string | null = '/v/:id'): RequestView {
  return { method, route, start: performance.now(), principal: null } as unknown as RequestView
}

function underServerSpan<T>(tracer: ReturnType<typeof sdk>['tracer'], run: () => T): T {
  const server = tracer.startSpan('server')
  try {
    return context.with(trace.setSpan(context.active(), server), run)
  } finally {
    server.end()
  }
}

describe('createTelemetry', () => {
  it('does no metric work and leaves steps as they are without an SDK or when disabled', () => {
    // No global SDK in this file: the global meter and tracer provider are the no-op ones.
    expect(createTelemetry(undefined)).toBe(NO_TELEMETRY)
    const step: Step = () => null
    expect(createTelemetry({ enabled: false })).toBe(NO_TELEMETRY)
    expect(NO_TELEMETRY.traceStep(SPANS.decide, step)).toBe(step)
    expect(NO_TELEMETRY.startSpan(SPANS.project, view())).toBeUndefined()
  })

  it('runs a traced step as it is when no span is recording above it', () => {
    const { telemetry } = sdk()
    const answer = renderProblem(new AuthorizationError('PCL_INSUFFICIENT_SCOPE'))
    expect(telemetry.tracing).toBe(true)
    expect(telemetry.traceStep(SPANS.decide, () => answer)(view())).toBe(answer)
  })

  it('hands an existing telemetry on unchanged', () => {
    const telemetry = createTelemetry({})
    expect(createTelemetry(telemetry)).toBe(telemetry)
  })

  it.each([
    [[], 'telemetry: must be an object'],
    [{ sampler: true }, 'telemetry.sampler: unknown option'],
    [{ enabled: 'yes' }, 'telemetry.enabled: must be a boolean'],
    [{ tracerProvider: {} }, 'telemetry.tracerProvider: must be an OpenTelemetry provider'],
    [{ attributes: { email: true } }, 'telemetry.attributes.email: unknown option'],
    [{ attributes: { clientId: 1 } }, 'telemetry.attributes.clientId: must be a boolean'],
  ])('refuses %j, naming the field', (input, message) => {
    let error: unknown
    try {
      createTelemetry(input)
    } catch (err) {
      error = err
    }
    expect(isPortcullisConfigError(error)).toBe(true)
    expect((error as Error).message).toContain(message)
    expect((error as { code: string }).code).toBe('PCL_INVALID_OPTIONS')
  })

  it('reports a method outside the HTTP set as _OTHER and a request without a route without http.route', async () => {
    const { telemetry, points } = sdk()
    telemetry.decision(view('X-SECRET-METHOD', null), 'denied', 'PCL_TOKEN_MISSING', null, 401)
    expect(await points('portcullis.decisions')).toEqual([
      {
        'http.request.method': '_OTHER',
        'portcullis.decision': 'denied',
        'portcullis.reason': 'PCL_TOKEN_MISSING',
        'error.type': 'PCL_TOKEN_MISSING',
        'http.response.status_code': 401,
      },
    ])
  })

  it('records a step that throws as _OTHER, with no message and no exception event, and rethrows', () => {
    const { telemetry, tracer, spans } = sdk()
    const secret = new Error('token eyJhbGciOiJFUzI1NiJ9.secret.sig')
    const step = telemetry.traceStep(SPANS.decide, () => {
      throw secret
    })
    expect(() => underServerSpan(tracer, () => step(view()))).toThrow(secret)
    const [span] = spans().filter((s) => s.name === SPANS.decide)
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR })
    expect(span?.attributes['error.type']).toBe('_OTHER')
    expect(span?.events).toEqual([])
  })

  it('ends the span of an asynchronous step when it settles, and a rejection like a throw', async () => {
    const { telemetry, tracer, spans } = sdk()
    const refusal = renderProblem(new AuthorizationError('PCL_CALLER_NOT_ALLOWED'))
    const refuse = telemetry.traceStep(SPANS.rateLimit, () => Promise.resolve(refusal))
    const reject = telemetry.traceStep(SPANS.budget, () => Promise.reject(new Error('redis: x')))
    await expect(underServerSpan(tracer, () => refuse(view()))).resolves.toBe(refusal)
    await expect(underServerSpan(tracer, () => reject(view()))).rejects.toThrow('redis: x')
    const byName = new Map(spans().map((s) => [s.name, s]))
    expect(byName.get(SPANS.rateLimit)?.attributes).toMatchObject({
      'error.type': 'PCL_CALLER_NOT_ALLOWED',
      'http.response.status_code': 403,
    })
    expect(byName.get(SPANS.budget)?.attributes['error.type']).toBe('_OTHER')
  })

  it('counts a refused verification of an unknown error as _OTHER, never its message', async () => {
    const { telemetry, points } = sdk()
    telemetry.verification('refused', undefined, new Error('kid abc not found for sub=alice'))
    expect(await points('portcullis.token.verifications')).toEqual([
      { 'portcullis.token.result': 'refused', 'error.type': '_OTHER' },
    ])
  })
})
