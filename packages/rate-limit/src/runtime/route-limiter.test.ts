import type { Principal } from '@portcullis/core'
import type { RenderedProblem } from '@portcullis/core'
import type { RequestView } from '@portcullis/core/internal'
import { describe, expect, it } from 'vitest'
import type { LimitSpec } from '../limiter/limit-spec.js'
import { createMemoryCounter } from '../store/memory-counter.js'
import { createRedisCounter } from '../store/redis-counter.js'
import { createRouteLimiter } from './route-limiter.js'
import { routeNamespace } from './route-plan.js'

const silent = { info() {}, warn() {}, error() {} }

function principal(subject: string): Principal {
  return Object.freeze({ issuer: 'https://auth.test', subject, clientId: null }) as Principal
}

function view(method: string, who: Principal | null, ip = '10.0.0.1'): RequestView {
  const headers: Record<string, string | number> = {}
  return {
    method,
    route: '/v',
    ip,
    log: silent,
    principal: who,
    native: {},
    setHeader: (name: string, value: string | number) => void (headers[name] = value),
    headers,
  } as unknown as RequestView
}

function limiter(key: LimitSpec['key'], max = 1) {
  const spec: LimitSpec = { max, timeWindow: 60_000, key, bucket: null, overrides: [] }
  return createRouteLimiter(
    spec,
    { route: '/v', namespace: routeNamespace('/v', null), reportOnly: false },
    {
      counter: createMemoryCounter(10_000),
      decision: { realm: undefined, audit: () => undefined },
      headers: {
        limit: 'ratelimit-limit',
        remaining: 'ratelimit-remaining',
        reset: 'ratelimit-reset',
      },
      onStoreError: 'fail-closed',
      health: { down: false },
    },
  )
}

const status = (answer: unknown): number | null =>
  answer === null ? null : (answer as RenderedProblem).status

describe('the route limiter', () => {
  it('answers at once when Redis fails at once (its client not made yet): 503, never a hang', () => {
    const spec: LimitSpec = {
      max: 5,
      timeWindow: 60_000,
      key: 'principal',
      bucket: null,
      overrides: [],
    }
    const limit = createRouteLimiter(
      spec,
      { route: '/v', namespace: routeNamespace('/v', null), reportOnly: false },
      {
        counter: createRedisCounter(() => null, { timeout: 100 }),
        decision: { realm: undefined, audit: () => undefined },
        headers: null,
        onStoreError: 'fail-closed',
        health: { down: false },
      },
    )
    const answer = limit(view('GET', principal('alice')))
    expect(answer instanceof Promise).toBe(false)
    expect(status(answer)).toBe(503)
  })

  it('counts each method on its own, past the methods it remembers a key builder for', () => {
    const limit = limiter('principal')
    const alice = principal('alice')
    const methods = Array.from({ length: 70 }, (_, i) => `M${i}`)
    for (const method of methods) expect(status(limit(view(method, alice)))).toBeNull()
    for (const method of ['M0', 'M63', 'M64', 'M69']) {
      expect(status(limit(view(method, alice)))).toBe(429)
    }
    expect(status(limit(view('M69', principal('bob'))))).toBeNull()
  })

  it('counts every principal object of one subject on one count (tokens of one caller)', () => {
    const limit = limiter('principal', 2)
    expect(status(limit(view('GET', principal('alice'))))).toBeNull()
    expect(status(limit(view('GET', principal('alice'))))).toBeNull()
    expect(status(limit(view('GET', principal('alice'))))).toBe(429)
    // HEAD counts as GET.
    expect(status(limit(view('HEAD', principal('alice'))))).toBe(429)
  })

  it('counts by address without a principal, and sets the limit headers', () => {
    const limit = limiter('principal', 1)
    const first = view('GET', null, '10.0.0.9')
    expect(status(limit(first))).toBeNull()
    expect((first as unknown as { headers: object }).headers).toEqual({
      'ratelimit-limit': 1,
      'ratelimit-remaining': 0,
      'ratelimit-reset': 60,
    })
    expect(status(limit(view('GET', null, '10.0.0.9')))).toBe(429)
    expect(status(limit(view('GET', null, '10.0.0.10')))).toBeNull()
  })
})
