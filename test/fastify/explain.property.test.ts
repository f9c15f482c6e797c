// `portcullis explain` and the running guard agree: 1,000 seeded random (route, claims) pairs,
// each explained through app.portcullis.explain and sent as a real request with a real token.
import { createTestIssuer } from '@portcullis/testing'
import { describe, expect, it } from 'vitest'
import { explainApp, explainRoutes } from '../../packages/fastify/src/cli/fixtures/explain-app.js'
import { trustedTokens } from '../helpers.js'
// A seeded generator (mulberry32), so a failure replays.
import { prng } from '../reliability/support.js'

describe('explain agrees with the running guard', () => {
  it('on 1,000 random (route, claims) pairs', { timeout: 120_000 }, async () => {
    const issuer = await createTestIssuer()
    const app = await explainApp({
      tokens: trustedTokens(issuer),
      response: { requireResponse: false },
    })
    await app.ready()
    const next = prng(0x21)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!
    const some = <T>(items: readonly T[]): T[] => items.filter(() => next() < 0.5)
    const templates = Object.keys(explainRoutes)
    const seen = new Map<string, number>()
    for (let i = 0; i < 1000; i++) {
      const template = pick(templates)
      const url = template.replace(/:[a-z]+/u, pick(['t1', 't2', '7']))
      const org = pick(['o1', 'o2', undefined])
      const claims =
        next() < 0.08
          ? null
          : Object.fromEntries(
              Object.entries({
                scope: some(['s1', 's2', 's3', 's4']).join(' '),
                client_id: pick(['c1', 'c2', 'c3', undefined]),
                tenant: pick(['t1', 't2', 7, undefined]),
                role: pick(['admin', 'editor', 'viewer', undefined]),
                groups: pick([['g1'], ['g2'], ['g1', 'g2'], 'g1', undefined]),
                org: pick(['o1', 'o2', undefined]),
                n: pick([1, 2, 4, '2', undefined]),
              }).filter(([, v]) => v !== undefined),
            )
      const query = org === undefined ? {} : { org }
      const explained = await app.portcullis.explain({ method: 'GET', url, claims, query })
      const response = await app.inject({
        method: 'GET',
        url: org === undefined ? url : `${url}?org=${org}`,
        headers: claims === null ? {} : { authorization: `Bearer ${await issuer.token(claims)}` },
      })
      const pair = `${url} ${JSON.stringify(claims)} ?org=${String(org)}`
      if (explained.decision === 'deny') {
        expect(response.statusCode, pair).toBe(explained.status)
        expect(response.json<{ code: string }>().code, pair).toBe(explained.code)
      } else {
        expect(response.statusCode, pair).toBe(200)
      }
      // The steps agree with the decision: a denial names a failing rule with its code.
      if (explained.decision !== 'allow') {
        expect(explained.steps.find((s) => s.outcome === 'fail')?.code, pair).toBe(explained.code)
      } else {
        expect(
          explained.steps.every((s) => s.outcome === 'pass'),
          pair,
        ).toBe(true)
      }
      seen.set(explained.code, (seen.get(explained.code) ?? 0) + 1)
    }
    await app.close()
    // The generator reaches every outcome, so the agreement is not vacuous.
    expect([...seen.keys()].sort()).toEqual(
      expect.arrayContaining([
        'PCL_ALLOWED',
        'PCL_CALLER_NOT_ALLOWED',
        'PCL_CHECK_DENIED',
        'PCL_CLAIM_MISMATCH',
        'PCL_INSUFFICIENT_SCOPE',
        'PCL_PUBLIC',
        'PCL_TOKEN_MISSING',
      ]),
    )
  })
})
