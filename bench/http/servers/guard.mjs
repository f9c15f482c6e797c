// Scenarios 2 and 3: the full Portcullis guard on the same route. ES256 tokens verified through
// the issuer's JWKS (served by this process on loopback, fetched like a real one), scopes +
// callers + a claim matched against the URL, an in-memory rate limit keyed by subject and an
// allowlist of 8 response fields.
//
// With `--dpop`, the same guard on a DPoP-only route (`guard.dpop: true`): the token is bound to a
// client key (`cnf.jkt`) whose private JWK this server hands to the parent, which signs a fresh
// proof for every request before the measured run.
//
// With `--cache off`, the verification cache is off: every token is verified in full. With
// `--pre-auth off`, the rate limit has no pre-auth limiter (`preAuth: false`): a flood of forged
// tokens from one address is then verified, not refused by the limiter.
//
// With `--egress`, the route also has an egress budget (items, never spent in a run) and an
// enumeration limit on `:id` (every request re-reads the same id, so it is free): what the two
// cost on the warm path. `--redis <url>` puts the rate limit (and those) in Redis.
//
// `--telemetry off` turns the guard's OpenTelemetry off (`telemetry: { enabled: false }`): the
// default, the API with no SDK, is what the other scenarios measure. `--telemetry sdk` registers
// the OpenTelemetry SDK (a meter provider with a reader, a tracer provider whose spans are
// exported to memory and dropped) and runs every request in a server span, as the HTTP
// instrumentation would, so that the guard's spans are recorded.
//
// The rate limit and the allowlist arrive with @portcullis/rate-limit and @portcullis/allowlist.
// Until this build of @portcullis/fastify accepts them, registration refuses them with a config
// error naming the option; the server then starts without that feature and says so, so the
// benchmark keeps running today and measures them as soon as they land.
import { createServer } from 'node:http'
import { context, metrics, SpanKind, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base'
import portcullis from '@portcullis/fastify'
import Fastify from 'fastify'
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose'
import {
  ALLOWED_FIELDS,
  AUDIENCE,
  CALLERS,
  ISSUER,
  issuerWithTokens,
  main,
  ROUTE,
  SCOPES,
  serve,
  serverArgs,
  video,
} from './shared.mjs'

// The verification cache, stated rather than left to the default: the cold scenario's token pool
// must be larger than this, so that cycling through it never finds a token in the cache.
const TOKEN_CACHE_MAX = 10_000

const FEATURES = {
  rateLimit: {
    what: 'in-memory rate limit keyed by subject (plugin option rateLimit)',
    refused: (err) => err.code === 'PCL_INVALID_OPTIONS' && mentions(err, 'rateLimit'),
  },
  response: {
    what: 'response allowlist of 8 fields (guard.response)',
    refused: (err) =>
      (err.code === 'PCL_INVALID_GUARD' || err.code === 'PCL_INVALID_OPTIONS') &&
      mentions(err, 'response'),
  },
}

function mentions(err, key) {
  return String(err.field ?? '').includes(key) || String(err.message).includes(key)
}

// The SDK as an app registers it before creating its server: spans exported in batches to an
// exporter that keeps a count, metrics aggregated in memory until a reader collects them.
function registerSdk() {
  class Reader extends MetricReader {
    async onShutdown() {}
    async onForceFlush() {}
  }
  const exported = { spans: 0 }
  const exporter = {
    export(spans, done) {
      exported.spans += spans.length
      done({ code: 0 })
    },
    shutdown: async () => {},
  }
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new Reader()] }))
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(exporter)],
  })
  trace.setGlobalTracerProvider(tracerProvider)
  const tracer = tracerProvider.getTracer('bench-http-server')
  // What @opentelemetry/instrumentation-http does for each request: a server span, active.
  return (handler) =>
    createServer((req, res) => {
      const span = tracer.startSpan(`${req.method}`, { kind: SpanKind.SERVER })
      res.once('close', () => span.end())
      context.with(trace.setSpan(context.active(), span), () => handler(req, res))
    })
}

async function build(
  jwksUri,
  features,
  dpop,
  egress = false,
  redis = '',
  cache = true,
  telemetry = 'api',
  preAuth = true,
) {
  const app = Fastify(telemetry === 'sdk' ? { serverFactory: registerSdk() } : {})
  await app.register(portcullis, {
    ...(telemetry === 'off' ? { telemetry: { enabled: false } } : {}),
    tokens: {
      issuers: [{ issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], jwksUri }],
      cache: cache ? { max: TOKEN_CACHE_MAX } : false,
    },
    ...(features.rateLimit
      ? {
          rateLimit: {
            max: 1e9,
            timeWindow: '1 minute',
            ...(redis === '' ? {} : { redis, storeTimeout: 1000 }),
            ...(preAuth ? {} : { preAuth: false }),
          },
        }
      : {}),
    // Without an allowlist on the route, the plugin must be told to serve it anyway.
    ...(features.response ? {} : { response: { requireResponse: false } }),
  })
  const guard = {
    scopes: SCOPES,
    callers: CALLERS,
    claims: { tenant: { param: 'tenantId' } },
    ...(features.response ? { response: { allow: ALLOWED_FIELDS } } : {}),
    ...(dpop ? { dpop: true } : {}),
    ...(egress
      ? {
          budget: { name: 'videos', unit: 'items', max: 1e12, timeWindow: '1 hour' },
          enumeration: { param: 'id', maxDistinct: 1000, timeWindow: '1 hour' },
        }
      : {}),
  }
  app.get(ROUTE, { config: { guard } }, (request) => video(request.params))
  await app.ready()
  return app
}

main(async () => {
  // `--without rate-limit|allowlist` measures the guard without one plugin, for the cost of each.
  // `--cache off`: no verification cache, every token verified in full (cold scenarios).
  const {
    pool,
    without,
    dpop,
    egress,
    redis,
    cache,
    telemetry,
    'pre-auth': preAuth,
  } = serverArgs({
    cache: { type: 'string', default: 'on' },
    'pre-auth': { type: 'string', default: 'on' },
    without: { type: 'string', default: '' },
    dpop: { type: 'boolean', default: false },
    egress: { type: 'boolean', default: false },
    redis: { type: 'string', default: '' },
    telemetry: { type: 'string', default: 'api' },
  })
  if (cache !== 'on' && cache !== 'off') throw new Error('--cache must be on or off')
  if (pool > 0 && pool <= TOKEN_CACHE_MAX) {
    throw new Error(`--pool must exceed the token cache (${TOKEN_CACHE_MAX}) to stay cold`)
  }
  // The DPoP client's key: the token is bound to its thumbprint, the parent signs with it.
  let client = null
  if (dpop) {
    const pair = await generateKeyPair('ES256', { extractable: true })
    const jwk = await exportJWK(pair.publicKey)
    client = { jwk, jkt: await calculateJwkThumbprint(jwk), key: await exportJWK(pair.privateKey) }
  }
  const tokens = await issuerWithTokens(pool, client === null ? {} : { cnf: { jkt: client.jkt } })
  const features = { rateLimit: without !== 'rate-limit', response: without !== 'allowlist' }
  const notes = []
  for (;;) {
    let app
    try {
      app = await build(
        tokens.jwksUri,
        features,
        dpop,
        egress,
        redis,
        cache === 'on',
        telemetry,
        preAuth === 'on',
      )
    } catch (err) {
      const missing = Object.keys(FEATURES).find((k) => features[k] && FEATURES[k].refused(err))
      if (missing === undefined) throw err
      features[missing] = false
      const reason = err.message.replace(/\s+/g, ' ').slice(0, 240)
      notes.push(`${FEATURES[missing].what}: refused by this build, measured without (${reason})`)
      continue
    }
    await serve(app, {
      tokens,
      features,
      notes,
      close: [() => tokens.issuer.close()],
      extra: client === null ? {} : { dpopKey: client.key },
    })
    return
  }
})
