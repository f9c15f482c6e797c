import { describe, expect, it } from 'vitest'
import type { LimitSpec } from '../limiter/limit-spec.js'
import type { RouteLimitPlan } from '../route/index.js'
import { createBuckets, routeNamespace } from './route-plan.js'

const spec = (bucket: string | null, max = 10): LimitSpec => ({
  max,
  timeWindow: 60_000,
  key: 'principal',
  bucket,
  overrides: [],
})
const limit = (s: LimitSpec): RouteLimitPlan => ({
  kind: 'limit',
  spec: s,
  isPublic: false,
  summary: '',
})

describe('routeNamespace', () => {
  it('one count per method and template, HEAD counted as GET', () => {
    const of = routeNamespace('/v1/videos/:id', null)
    expect(of('GET')).toBe('r\0GET /v1/videos/:id\0')
    expect(of('HEAD')).toBe(of('GET'))
    expect(of('POST')).toBe('r\0POST /v1/videos/:id\0')
    expect(routeNamespace('/v1/other', null)('GET')).not.toBe(of('GET'))
  })

  it('a bucket is one count for every method and route that names it', () => {
    expect(routeNamespace('/a', 'search')('GET')).toBe('b\0search\0')
    expect(routeNamespace('/b', 'search')('POST')).toBe('b\0search\0')
  })

  it('stays right for any number of methods (its memo is bounded)', () => {
    const of = routeNamespace('/x', null)
    for (let i = 0; i < 100; i++) expect(of(`M${i}`)).toBe(`r\0M${i} /x\0`)
  })
})

describe('createBuckets', () => {
  it('routes sharing a bucket must declare the same limit; the error names both', () => {
    const check = createBuckets()
    expect(check('GET /a', limit(spec('search')))).toBeNull()
    expect(check('GET /b', limit(spec('search')))).toBeNull()
    const conflict = check('GET /c', limit(spec('search', 20)))
    expect(conflict).toMatchObject({
      code: 'PCL_INVALID_GUARD',
      message: expect.stringMatching(/^GET \/c: .*'search'.* by GET \/a/),
    })
    // Routes without a bucket, and exempt ones, never conflict.
    expect(check('GET /d', limit(spec(null, 99)))).toBeNull()
    expect(check('GET /e', { kind: 'exempt', reason: 'public', summary: '' })).toBeNull()
  })
})
