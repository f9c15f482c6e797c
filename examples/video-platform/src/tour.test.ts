import { createTestIssuer } from '@portcullis/testing'
import { describe, expect, it } from 'vitest'
import { buildApp } from './app.js'
import { runTour, tourPassed } from './tour.js'

describe('the demo tour', () => {
  it('refuses every attack and serves every legitimate call', async () => {
    const issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
    const app = await buildApp(issuer)
    const steps = await runTour(app, issuer)
    await app.close()
    expect(tourPassed(steps)).toBe(true)
    expect(steps.find((s) => s.attempt === 'anonymous bulk query')).toMatchObject({
      status: 401,
      code: 'PCL_TOKEN_MISSING',
    })
    expect(steps.find((s) => s.attempt === 'token signed with alg: none')).toMatchObject({
      status: 401,
      code: 'PCL_TOKEN_INVALID',
    })
    expect(steps.find((s) => s.attempt === 'expired token replayed')?.code).toBe(
      'PCL_TOKEN_EXPIRED',
    )
  })
})
