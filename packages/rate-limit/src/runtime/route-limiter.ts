import {
  refuse,
  reportDenial,
  SPANS,
  type Answer,
  type DecisionContext,
  type Pending,
  type RequestView,
} from '@portcullis/core/internal'
import {
  keyFailure,
  setLimitHeaders,
  maxOf,
  rateLimited,
  storeAnswered,
  storeUnavailable,
  type LimitSpec,
  type StoreHealth,
} from '../limiter/index.js'
import { keyOf } from '../limiter/request-keys.js'
import type { HeaderNames } from '../options/index.js'
import type { Count, Counter } from '../store/index.js'

/** What every route's limiter of one app shares. */
export interface LimiterContext {
  readonly counter: Counter
  readonly decision: DecisionContext
  readonly headers: HeaderNames | null
  readonly onStoreError: 'fail-closed' | 'fail-open'
  /** Whether the store answered last time: outages are logged once, not once per request. */
  readonly health: StoreHealth
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

/** Counts one request: `null` to serve it, or the refusal (429, or 503 per `onStoreError`). */
export type Limit = (view: RequestView) => Pending

/**
 * Builds the limiter step of one route, once: counts each request the guard let through against
 * its verified principal (or client, IP, or a key function) in the route's namespace, sets the
 * rate-limit headers, and answers a problem+json 429 with `Retry-After` over the limit. The
 * in-memory count answers synchronously; Redis answers later.
 */
export function createRouteLimiter(
  spec: LimitSpec,
  limited: LimitedRoute,
  context: LimiterContext,
): Limit {
  const { counter, headers, health, decision } = context
  const { timeWindow } = spec
  const { route, reportOnly } = limited
  const keyOfRequest = keyOf(spec.key)
  const maxFor = maxOf(spec)

  function counted(view: RequestView, max: number, err: Error | null, count: Count | null): Answer {
    if (count === null) return storeUnavailable(view, decision, context, route, err)
    storeAnswered(health, view.log)
    const { current, ttl } = count
    if (headers !== null) setLimitHeaders(headers, max, current, ttl, view)
    if (current <= max) return null
    const over = rateLimited(ttl)
    if (reportOnly) {
      reportDenial(view, decision, over, route)
      return null
    }
    return refuse(view, decision, over, route)
  }

  const limit: Limit = function portcullisRateLimit(view) {
    let key: string
    try {
      key = limited.namespace(view.method) + keyOfRequest(view)
    } catch (err) {
      return refuse(view, decision, keyFailure(view.log, err), route)
    }
    const max = maxFor(view.principal)
    let answer: Answer | undefined
    let later: ((answer: Answer) => void) | undefined
    counter.hit(key, timeWindow, max, function portcullisCounted(err, count) {
      const settled = counted(view, max, err, count)
      if (later === undefined) answer = settled
      else later(settled)
    })
    // The in-memory counter has answered by now; Redis answers later.
    if (answer !== undefined) return answer
    return new Promise<Answer>((resolve) => {
      later = resolve
    })
  }
  return decision.telemetry?.traceStep(SPANS.rateLimit, limit) ?? limit
}
