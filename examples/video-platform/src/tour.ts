import type { TestIssuer } from '@portcullis/testing'
import { bearer } from '@portcullis/testing'
import type { FastifyInstance } from 'fastify'

/** One attempt of the tour and what happened to it. */
export interface TourStep {
  attempt: string
  request: string
  expected: 'refused' | 'served'
  status: number
  code: string
}

interface Attempt {
  attempt: string
  method?: 'GET' | 'POST'
  url: string
  token?: () => Promise<string>
  expected: 'refused' | 'served'
}

/** The incident's attempts, then legitimate calls, replayed against the service. */
export async function runTour(app: FastifyInstance, issuer: TestIssuer): Promise<TourStep[]> {
  const attempts: Attempt[] = [
    { attempt: 'anonymous bulk query', url: '/v1/videos', expected: 'refused' },
    { attempt: 'anonymous route enumeration', url: '/v1/internal/export', expected: 'refused' },
    {
      attempt: 'token signed with alg: none',
      url: '/v1/videos/1',
      token: () => issuer.bad.algNone({ sub: 'attacker' }),
      expected: 'refused',
    },
    {
      attempt: 'token signed by an unknown key',
      url: '/v1/videos/1',
      token: () => issuer.bad.wrongKey({ sub: 'attacker' }),
      expected: 'refused',
    },
    {
      attempt: 'expired token replayed',
      url: '/v1/videos/1',
      token: () => issuer.bad.expired({ sub: 'search-svc' }),
      expected: 'refused',
    },
    {
      attempt: 'token minted for another service',
      url: '/v1/videos/1',
      token: () => issuer.bad.wrongAudience({ sub: 'search-svc' }),
      expected: 'refused',
    },
    { attempt: 'health check (public)', url: '/healthz', expected: 'served' },
    {
      attempt: 'search service reads a video',
      url: '/v1/videos/42',
      token: () => issuer.token({ sub: 'search-svc', client_id: 'search-svc' }),
      expected: 'served',
    },
  ]
  const steps: TourStep[] = []
  for (const a of attempts) {
    const token = a.token === undefined ? undefined : await a.token()
    const res = await app.inject({
      method: a.method ?? 'GET',
      url: a.url,
      ...(token === undefined ? {} : { headers: bearer(token) }),
    })
    let code = ''
    if (res.headers['content-type']?.toString().startsWith('application/problem+json')) {
      code = String(res.json<{ code?: unknown }>().code)
    }
    steps.push({
      attempt: a.attempt,
      request: `${a.method ?? 'GET'} ${a.url}${token === undefined ? '' : ' (Bearer)'}`,
      expected: a.expected,
      status: res.statusCode,
      code,
    })
  }
  return steps
}

/** True when every refused attempt was refused and every legitimate call served. */
export function tourPassed(steps: readonly TourStep[]): boolean {
  return steps.every((s) => (s.expected === 'served' ? s.status < 300 : s.status >= 400))
}
