// Compile-only: the `telemetry` option takes the SDK's providers as they are, on Fastify and
// Express alike, and refuses what is not an option.
import { metrics, trace } from '@opentelemetry/api'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import type { TelemetryOptions } from '@portcullis/core'
import type { PortcullisExpressOptions } from '@portcullis/express'
import type { PortcullisOptions } from '@portcullis/fastify'
import { expectTypeOf } from 'vitest'

type FastifyTelemetry = NonNullable<PortcullisOptions['telemetry']>
type ExpressTelemetry = NonNullable<PortcullisExpressOptions['telemetry']>

expectTypeOf<FastifyTelemetry>().toEqualTypeOf<TelemetryOptions>()
expectTypeOf<ExpressTelemetry>().toEqualTypeOf<TelemetryOptions>()
expectTypeOf({
  meterProvider: new MeterProvider(),
  tracerProvider: new BasicTracerProvider(),
}).toExtend<TelemetryOptions>()
expectTypeOf({
  meterProvider: metrics.getMeterProvider(),
  tracerProvider: trace.getTracerProvider(),
  attributes: { subject: true, clientId: false },
}).toExtend<TelemetryOptions>()
expectTypeOf({ enabled: false }).toExtend<TelemetryOptions>()
expectTypeOf({ attributes: { email: true } }).not.toExtend<TelemetryOptions>()
expectTypeOf({ attributes: { subject: 'yes' } }).not.toExtend<TelemetryOptions>()
expectTypeOf({ meterProvider: {} }).not.toExtend<TelemetryOptions>()
