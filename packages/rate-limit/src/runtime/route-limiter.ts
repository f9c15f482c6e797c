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
import { keyOf, keyPerPrincipal, type KeyedRequest } from '../limiter/request-keys.js'
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
  const { hitNow } = counter
  const { timeWindow } = spec
  const { route, reportOnly } = limited
  const keyOfRequest = keyOf(spec.key)
  const maxFor = maxOf(spec)
  // One key builder per namespace (a route has one per method it serves, or its bucket's).
  // Bounded like the namespaces: a route for every method (Express's `all`) sees any token.
  const keysIn = new Map<string, (request: KeyedRequest) => string>()
  function keyFor(view: RequestView): string {
    const namespace = limited.namespace(view.method)
    const keyIn = keysIn.get(namespace)
    if (keyIn !== undefined) return keyIn(view)
    if (keysIn.size >= 64) return namespace + keyOfRequest(view)
    const built = keyPerPrincipal(spec.key, (request) => namespace + keyOfRequest(request))
    keysIn.set(namespace, built)
    return built(view)
  }

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
      key = keyFor(view)
    } catch (err) {
      return refuse(view, decision, keyFailure(view.log, err), route)
    }
    const max = maxFor(view.principal)
    // The in-memory counter answers at once, with no callback built for the request.
    if (hitNow !== null) return counted(view, max, null, hitNow(key, timeWindow, max))
    let answer: Answer | undefined
    let later: ((answer: Answer) => void) | undefined
    counter.hit(key, timeWindow, max, function portcullisCounted(err, count) {
      const settled = counted(view, max, err, count)
      if (later === undefined) answer = settled
      else later(settled)
    })
    // Redis answers later (a store that fails at once has answered by now).
    if (answer !== undefined) return answer
    return new Promise<Answer>((resolve) => {
      later = resolve
    })
  }
  return decision.telemetry?.traceStep(SPANS.rateLimit, limit) ?? limit
}
