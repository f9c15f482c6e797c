import { DependencyError, RateLimitError, type Principal } from '@portcullis/core'
import { deny, emitAudit, reportDenial, type DecisionContext } from '@portcullis/tokens'
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { LimitSpec } from '../lib/limit-spec.js'
import { keyOf } from '../lib/request-keys.js'
import type { HeaderNames } from '../options/index.js'
import type { Counter } from '../store/index.js'

/** Whether the store answered last time: outages are logged once, not once per request. */
export interface StoreHealth {
  down: boolean
}

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

function maxOf(spec: LimitSpec): (principal: Principal | null) => number {
  const { max, overrides } = spec
  if (overrides.length === 0) return () => max
  return function overriddenMax(principal) {
    if (principal == null) return max
    for (const o of overrides) {
      if (
        o.callers !== null &&
        (principal.clientId === null || !o.callers.includes(principal.clientId))
      ) {
        continue
      }
      if (o.scopes !== null && !o.scopes.every((scope) => principal.scopes.has(scope))) continue
      return o.max
    }
    return max
  }
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
    // A key function that throws is a bug in the application: refused, never served unlimited.
    request.log.error(
      { err: cause },
      'portcullis: the rate-limit key function failed; request refused',
    )
    deny(
      request,
      reply,
      decision,
      new DependencyError('PCL_STORE_UNAVAILABLE', {
        message: 'rate-limit key function threw',
        cause,
      }),
      route.url,
    )
  }

  function storeFailed(
    request: FastifyRequest,
    reply: FastifyReply,
    done: (err?: Error) => void,
    cause: Error | null,
  ): void {
    const failOpen = context.onStoreError === 'fail-open'
    if (!health.down) {
      health.down = true
      request.log.warn(
        { err: cause, code: 'PCL_STORE_UNAVAILABLE' },
        failOpen
          ? 'portcullis: rate-limit store unavailable; serving requests UNLIMITED (onStoreError: fail-open)'
          : 'portcullis: rate-limit store unavailable; refusing requests with 503 (onStoreError: fail-closed)',
      )
    }
    if (failOpen) {
      emitAudit(request, decision, 'allow', 'PCL_STORE_UNAVAILABLE', { route: route.url })
      done()
      return
    }
    deny(
      request,
      reply,
      decision,
      new DependencyError('PCL_STORE_UNAVAILABLE', { cause }),
      route.url,
    )
  }

  function limited(
    request: FastifyRequest,
    reply: FastifyReply,
    done: (err?: Error) => void,
    ttl: number,
  ): void {
    const retryAfter = String(Math.max(1, Math.ceil(ttl / 1000)))
    const err = new RateLimitError('PCL_RATE_LIMITED', { headers: { 'Retry-After': retryAfter } })
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
      if (health.down) {
        health.down = false
        request.log.info('portcullis: rate-limit store answering again')
      }
      const { current, ttl } = count
      if (headers !== null) {
        reply.header(headers.limit, max)
        reply.header(headers.remaining, current < max ? max - current : 0)
        reply.header(headers.reset, ttl > 0 ? Math.ceil(ttl / 1000) : 0)
      }
      if (current <= max) {
        done()
        return
      }
      limited(request, reply, done, ttl)
    })
  }
}
