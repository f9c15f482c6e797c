// Policy evaluation: a compiled guard (three scopes, a caller list, a claim matched against a
// route parameter) beside the hand-written check it replaces.
import { compileGuard } from '@portcullis/policy'
import { Bench } from 'tinybench'

export async function policyBench({ time }) {
  const compiled = compileGuard(
    {
      scopes: ['videos:read', 'videos:list', 'tenants:read'],
      callers: ['search-svc', 'player-svc', 'catalog-svc'],
      claims: { tenant: { param: 'tenantId' } },
    },
    { route: 'GET /t/:tenantId/videos', params: ['tenantId'] },
  )
  const principal = Object.freeze({
    subject: 'user-1',
    issuer: 'https://auth.test',
    clientId: 'player-svc',
    scopes: new Set(['videos:read', 'videos:list', 'tenants:read', 'profile']),
    claims: Object.freeze({ sub: 'user-1', tenant: 'acme' }),
  })
  const request = {
    method: 'GET',
    url: '/t/acme/videos',
    params: { tenantId: 'acme' },
    query: {},
    headers: {},
  }
  const callers = new Set(['search-svc', 'player-svc', 'catalog-svc'])
  const handWritten = (p, req) =>
    p.scopes.has('videos:read') &&
    p.scopes.has('videos:list') &&
    p.scopes.has('tenants:read') &&
    p.clientId !== null &&
    callers.has(p.clientId) &&
    p.claims.tenant === req.params.tenantId
  if (compiled.evaluate(principal, request) !== null || !handWritten(principal, request)) {
    throw new Error('benchmark setup: the request should be allowed')
  }

  let sink = 0
  const bench = new Bench({ name: 'policy evaluation', time })
  bench
    .add('hand-written check (baseline)', () => {
      if (handWritten(principal, request)) sink++
    })
    .add('portcullis compiled guard', () => {
      if (compiled.evaluate(principal, request) === null) sink++
    })
  await bench.run()
  if (sink === 0) throw new Error('unreachable')
  const mean = (name) => bench.getTask(name).result.latency.mean
  const ns = mean('portcullis compiled guard') * 1e6
  return {
    table: bench.table(),
    checks: [
      {
        what: 'a compiled policy (3 scopes, callers, a claim matcher) costs under 1 µs',
        value: `${ns.toFixed(0)} ns per evaluation (${(mean('portcullis compiled guard') / mean('hand-written check (baseline)')).toFixed(1)}x the hand-written check)`,
        ok: ns < 1000,
      },
    ],
  }
}
