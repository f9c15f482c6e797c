// The OpenTelemetry SDK with in-memory exporters, and two guarded apps (Fastify and Express)
// whose requests run inside an HTTP server span, as the HTTP instrumentation would start one.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  context,
  SpanKind,
  trace,
  type Attributes,
  type AttributeValue,
  type Tracer,
} from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
} from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base'
import type { AuditEvent, RouteGuard } from '@portcullis/core'
import { createGuard } from '@portcullis/express'
import portcullis, { type PortcullisOptions } from '@portcullis/fastify'
import express from 'express'
import Fastify from 'fastify'

// The context manager the SDK registers in a real app: spans follow the request's async work.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())

/** A metric reader the test collects from when it wants. */
class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** One data point of one instrument, as the assertions read it. */
export interface Point {
  readonly attributes: Attributes
  /** The sum of a counter; the count of a histogram. */
  readonly value: number
}

/** The SDK of one test: its providers and what they recorded. */
export interface Otel {
  readonly meterProvider: MeterProvider
  readonly tracerProvider: BasicTracerProvider
  readonly tracer: Tracer
  /** The data points of `name` (empty when it recorded nothing). */
  points(name: string): Promise<Point[]>
  /** Every instrument name that recorded something. */
  names(): Promise<string[]>
  /** Every span ended so far. */
  spans(): ReadableSpan[]
  /** Every attribute value of every metric point, span and span event. */
  everyValue(): Promise<AttributeValue[]>
}

export function createOtel(): Otel {
  const reader = new TestReader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  })
  async function collect() {
    const { resourceMetrics } = await reader.collect()
    return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics)
  }
  return {
    meterProvider,
    tracerProvider,
    tracer: tracerProvider.getTracer('test-http-server'),
    async points(name) {
      const metric = (await collect()).find((m) => m.descriptor.name === name)
      if (metric === undefined) return []
      return (metric.dataPoints as DataPoint<number | Histogram>[]).map((point) => ({
        attributes: point.attributes,
        value: typeof point.value === 'number' ? point.value : point.value.count,
      }))
    },
    async names() {
      return (await collect()).map((m) => m.descriptor.name)
    },
    spans: () => exporter.getFinishedSpans(),
    async everyValue() {
      const values: AttributeValue[] = []
      const add = (attributes: Attributes | undefined): void => {
        for (const value of Object.values(attributes ?? {})) {
          if (value !== undefined) values.push(value)
        }
      }
      for (const metric of await collect()) {
        for (const point of metric.dataPoints) add(point.attributes)
      }
      for (const span of exporter.getFinishedSpans()) {
        add(span.attributes)
        values.push(span.name)
        if (span.status.message !== undefined) values.push(span.status.message)
        for (const event of span.events) add(event.attributes)
      }
      return values
    },
  }
}

/** Sums the points of `points` whose attributes include `match`. */
export function sum(points: readonly Point[], match: Attributes): number {
  return points
    .filter((point) =>
      Object.entries(match).every(([key, value]) => point.attributes[key] === value),
    )
    .reduce((total, point) => total + point.value, 0)
}

/** A route of the test apps: its guard and what its handler answers. */
export interface TestRoute {
  readonly path: string
  readonly guard: RouteGuard
  readonly body: (params: Record<string, string>) => unknown
}

/** A guarded app listening on loopback. */
export interface TestApp {
  readonly base: string
  request(path: string, headers?: Record<string, string>): Promise<{ status: number; body: any }>
  close(): Promise<void>
}

export type Adapter = 'fastify' | 'express'

/** Runs every request in a server span, as `@opentelemetry/instrumentation-http` does. */
function inServerSpan(
  tracer: Tracer | null,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  if (tracer === null) return handler
  return function serverSpan(req, res) {
    const span = tracer.startSpan(`${req.method} server`, { kind: SpanKind.SERVER })
    res.once('close', () => span.end())
    context.with(trace.setSpan(context.active(), span), () => handler(req, res))
  }
}

async function listening(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function app(base: string, close: () => Promise<void>): TestApp {
  return {
    base,
    async request(path, headers = {}) {
      const res = await fetch(`${base}${path}`, { headers })
      const text = await res.text()
      return { status: res.status, body: text === '' ? null : JSON.parse(text) }
    },
    close,
  }
}

const silent = { info() {}, warn() {}, error() {} }

/**
 * Starts `routes` behind the guard on `adapter` with `options` (the same object for both:
 * `@portcullis/fastify`'s options, `createGuard`'s), each request in a server span of `tracer`
 * (none when `null`).
 */
export async function startApp(
  adapter: Adapter,
  options: PortcullisOptions,
  routes: readonly TestRoute[],
  tracer: Tracer | null,
): Promise<TestApp> {
  if (adapter === 'fastify') {
    const fastify = Fastify({
      serverFactory: (handler) => createServer(inServerSpan(tracer, handler)),
    })
    await fastify.register(portcullis, options)
    for (const route of routes) {
      fastify.get(route.path, { config: { guard: route.guard } }, (request) =>
        route.body(request.params as Record<string, string>),
      )
    }
    await fastify.listen({ port: 0, host: '127.0.0.1' })
    const { port } = fastify.server.address() as AddressInfo
    return app(`http://127.0.0.1:${port}`, () => fastify.close())
  }
  const guard = createGuard({ logger: silent, ...options })
  const expressApp = express()
  for (const route of routes) {
    expressApp.get(route.path, guard(route.guard), (req, res) => {
      res.json(route.body(req.params as Record<string, string>))
    })
  }
  guard.seal(expressApp)
  await guard.ready()
  const server = createServer(inServerSpan(tracer, expressApp))
  const base = await listening(server)
  return app(base, async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await guard.close()
  })
}

/** Records of audit events, for comparing with the metrics. */
export function auditInto(events: AuditEvent[]): (event: AuditEvent) => void {
  return (event) => void events.push(event)
}
