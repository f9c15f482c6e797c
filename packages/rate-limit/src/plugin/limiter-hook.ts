import { deny, emitAudit, reportDenial, type DecisionContext } from '@portcullis/tokens'
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import { maxOf, type LimitSpec } from '../limiter/limit-spec.js'
import {
  keyFailure,
  limitHeaders,
  rateLimited,
  storeAnswered,
  storeFailure,
  type StoreHealth,
} from '../limiter/limit-outcomes.js'
import { keyOf } from '../limiter/request-keys.js'
import type { HeaderNames } from '../options/index.js'
import type { Counter } from '../store/index.js'

export type { StoreHealth } from '../limiter/limit-outcomes.js'

/** What every route's limiter shares. */
export interface LimiterContext {
  readonly counter: Counter
  readonly decision: DecisionContext
  readonly headers: HeaderNames | null
  readonly onStoreError: 'fail-closed' | 'fail-open'
  readonly health: StoreHealth
}

/** The route a limiter is built for. */
export interface LimitedRoute {
  /** The route template, for audit events. */
  readonly url: string
  /** Where this route's keys live: per method (HEAD counted as GET), or one bucket. */
  readonly namespaces: Readonly<Record<string, string>>
  /** Report-only routes report a 429 instead of refusing. */
  readonly reportOnly: boolean
}

/**
 * Builds the `onRequest` hook of one limited route, once, at registration. It runs after the
 * token and policy hooks (it is appended to the route's hooks after the policy prepended its
 * own), so only authorised requests are counted, against their verified principal.
 */
export function limiterHook(
  spec: LimitSpec,
  route: LimitedRoute,
  context: LimiterContext,
): onRequestHookHandler {
  const { counter, headers, health, decision } = context
  const { timeWindow } = spec
  const keyOfRequest = keyOf(spec.key)
  const maxFor = maxOf(spec)
  const namespaces = route.namespaces
  const values = Object.values(namespaces)
  const single = new Set(values).size === 1 ? (values[0] ?? null) : null
  const fallback = values[0] ?? ''

  function keyFailed(request: FastifyRequest, reply: FastifyReply, cause: unknown): void {
    deny(request, reply, decision, keyFailure(request.log, cause), route.url)
  }

  function storeFailed(
    request: FastifyRequest,
    reply: FastifyReply,
    done: (err?: Error) => void,
    cause: Error | null,
  ): void {
    const refusal = storeFailure(health, context.onStoreError, request.log, cause)
    if (refusal === null) {
      emitAudit(request, decision, 'allow', 'PCL_STORE_UNAVAILABLE', { route: route.url })
      done()
      return
    }
    deny(request, reply, decision, refusal, route.url)
  }

  function limited(
    request: FastifyRequest,
    reply: FastifyReply,
    done: (err?: Error) => void,
    ttl: number,
  ): void {
    const err = rateLimited(ttl)
    if (route.reportOnly) {
      reportDenial(request, decision, err, route.url)
      done()
      return
    }
    deny(request, reply, decision, err, route.url)
  }

  return function portcullisRateLimit(request, reply, done) {
    let key: string
    try {
      key = (single ?? namespaces[request.method] ?? fallback) + keyOfRequest(request)
    } catch (err) {
      keyFailed(request, reply, err)
      return
    }
    const max = maxFor(request.principal)
    counter.hit(key, timeWindow, max, function portcullisCounted(err, count) {
      if (count === null) {
        storeFailed(request, reply, done, err)
        return
      }
      storeAnswered(health, request.log)
      const { current, ttl } = count
      if (headers !== null) {
        for (const [name, value] of limitHeaders(headers, max, current, ttl)) {
          reply.header(name, value)
        }
      }
      if (current <= max) {
        done()
        return
      }
      limited(request, reply, done, ttl)
    })
  }
}
