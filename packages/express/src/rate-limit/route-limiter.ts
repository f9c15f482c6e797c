import {
  keyFailure,
  keyOf,
  limitHeaders,
  maxOf,
  rateLimited,
  storeAnswered,
  storeFailure,
  type LimiterLog,
  type LimitSpec,
  type ResolvedRateLimitOptions,
  type StoreHealth,
} from '@portcullis/rate-limit'
import type { Request, Response } from 'express'
import { rateLimit, type RateLimitInfo } from 'express-rate-limit'
import { deny, emitAudit, reportDenial, type DecisionContext } from '../lib/decision.js'
import type { Stores } from './stores.js'

/** What every route's limiter shares (one per `createGuard`). */
export interface LimiterRuntime {
  readonly options: ResolvedRateLimitOptions
  readonly stores: Stores
  readonly health: StoreHealth
  readonly decision: DecisionContext
  readonly log: LimiterLog
}

/** The route a limiter is built for. */
export interface LimitedRoute {
  /** The route template, for audit events. */
  readonly route: string
  /** Where this route's keys live for a request method: per method (HEAD as GET), or a bucket. */
  readonly namespace: (method: string) => string
  /** Report-only routes report a 429 instead of refusing. */
  readonly reportOnly: boolean
}

/** Counts one request; calls `proceed` when it may be served, else answers it. */
export type RouteLimiter = (req: Request, res: Response, proceed: () => void) => void

// Where express-rate-limit leaves what it counted, on the request. Ours, so an application's own
// express-rate-limit (`req.rateLimit`) is left alone.
const INFO = 'portcullisRateLimit'

/** A key function that threw, told apart from a store failure. */
class KeyFunctionFailure extends Error {
  constructor(readonly reason: unknown) {
    super('rate-limit key function threw')
    this.name = 'KeyFunctionFailure'
  }
}

function infoOf(req: Request): RateLimitInfo | undefined {
  return (req as Request & { [INFO]?: RateLimitInfo })[INFO]
}

function ttlOf(info: RateLimitInfo): number {
  return info.resetTime === undefined ? 0 : info.resetTime.getTime() - Date.now()
}

/**
 * Builds the limiter of one route, once, at `seal`: the in-memory counter called directly, or an
 * `express-rate-limit` middleware over Redis, counting against the verified principal (or
 * client, IP, or a key function) in the route's namespace,
 * with the Fastify plugin's semantics: its headers, a problem+json 429 with `Retry-After`, and
 * store outages answered per `onStoreError`.
 */
export function createRouteLimiter(
  spec: LimitSpec,
  limited: LimitedRoute,
  runtime: LimiterRuntime,
): RouteLimiter {
  const { decision, health, log } = runtime
  const { headers, onStoreError } = runtime.options
  const keyOfRequest = keyOf(spec.key)
  const maxFor = maxOf(spec)
  const { route, reportOnly } = limited

  function limitedRequest(req: Request, res: Response, proceed: () => void, ttl: number): void {
    const err = rateLimited(ttl)
    if (reportOnly) {
      reportDenial(req, decision, err, route)
      proceed()
      return
    }
    deny(req, res, decision, err, route)
  }

  // In memory, the count is the Fastify plugin's synchronous counter (`@fastify/rate-limit`'s
  // LocalStore), called directly: express-rate-limit's middleware awaits several times per
  // request, which cost 8-16% of the adapter's throughput in `pnpm bench` for nothing a
  // synchronous count needs. Redis goes through express-rate-limit and rate-limit-redis.
  const { stores } = runtime
  if (stores.kind === 'memory') {
    const memory = stores.counter
    return function portcullisRateLimit(req, res, proceed) {
      let key: string
      try {
        key = limited.namespace(req.method) + keyOfRequest(req)
      } catch (err) {
        deny(req, res, decision, keyFailure(log, err), route)
        return
      }
      const max = maxFor(req.principal)
      memory.hit(key, spec.timeWindow, max, function portcullisCounted(err, count) {
        if (count === null) {
          failed(req, res, proceed, err)
          return
        }
        const { current, ttl } = count
        if (headers !== null && !res.headersSent) {
          for (const [name, value] of limitHeaders(headers, max, current, ttl)) {
            res.setHeader(name, value)
          }
        }
        if (current <= max) proceed()
        else limitedRequest(req, res, proceed, ttl)
      })
    }
  }

  function writeHeaders(req: Request, res: Response): void {
    const info = infoOf(req)
    if (headers === null || info === undefined || res.headersSent) return
    for (const [name, value] of limitHeaders(headers, info.limit, info.used, ttlOf(info))) {
      res.setHeader(name, value)
    }
  }

  const middleware = rateLimit({
    windowMs: spec.timeWindow,
    // A number unless overrides make the limit depend on the principal.
    limit: spec.overrides.length === 0 ? spec.max : (req) => maxFor(req.principal),
    keyGenerator(req) {
      let key: string
      try {
        key = keyOfRequest(req)
      } catch (err) {
        throw new KeyFunctionFailure(err)
      }
      return limited.namespace(req.method) + key
    },
    store: stores.create(),
    requestPropertyName: INFO,
    // Headers, the 429 and store failures are answered below, as the Fastify plugin does.
    standardHeaders: false,
    legacyHeaders: false,
    passOnStoreError: false,
    // Its configuration checks are for hand-written setups: keys come from the shared key builder
    // (IPv6 per /64, as on Fastify), one limiter per route and store, validated by zod above. The
    // checks also read `req.ip` on every request, a cost the guard does not need to pay.
    validate: false,
    logger: {
      warn: (err, message) => log.warn({ err }, message ?? 'express-rate-limit warning'),
      error: (err, message) => log.error({ err }, message ?? 'express-rate-limit error'),
    },
    handler(req, res, next) {
      writeHeaders(req, res)
      const info = infoOf(req)
      limitedRequest(req, res, next, info === undefined ? 0 : ttlOf(info))
    },
  })

  function failed(req: Request, res: Response, proceed: () => void, err: unknown): void {
    if (err instanceof KeyFunctionFailure) {
      deny(req, res, decision, keyFailure(log, err.reason), route)
      return
    }
    const refusal = storeFailure(health, onStoreError, log, err)
    if (refusal === null) {
      emitAudit(req, decision, 'allow', 'PCL_STORE_UNAVAILABLE', { route })
      proceed()
      return
    }
    deny(req, res, decision, refusal, route)
  }

  return function portcullisRateLimit(req, res, proceed) {
    // express-rate-limit calls `next` once; `settled` keeps a second call (an error thrown by
    // what `proceed` runs, caught by its async wrapper) from answering the request twice.
    let settled = false
    void middleware(req, res, (err?: unknown) => {
      if (settled) return
      settled = true
      if (err !== undefined && err !== null) {
        failed(req, res, proceed, err)
        return
      }
      storeAnswered(health, log)
      writeHeaders(req, res)
      proceed()
    })
  }
}
