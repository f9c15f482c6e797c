import { createTestIssuer } from '@portcullis/testing'
import { describe, expect, it } from 'vitest'
import { buildApp } from './app.js'
import { runTour, tourPassed } from './tour.js'

describe('the demo tour', () => {
  it('refuses every attack and serves every legitimate call', async () => {
    const issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
    const app = await buildApp(issuer)
    const unlimited = await buildApp(issuer, { egress: false })
    const steps = await runTour(app, issuer, unlimited)
    await Promise.all([app.close(), unlimited.close()])
    expect(tourPassed(steps)).toBe(true)
    expect(steps.find((s) => s.attempt === 'anonymous bulk query')).toMatchObject({
      status: 401,
      code: 'PCL_TOKEN_MISSING',
    })
    expect(steps.find((s) => s.attempt === 'token signed with alg: none')).toMatchObject({
      status: 401,
      code: 'PCL_TOKEN_INVALID',
    })
    const code = (name: string) => steps.find((s) => s.attempt === name)?.code
    expect(code("a billing service's token, stolen")).toBe('PCL_CALLER_NOT_ALLOWED')
    expect(code("a valid token reading another user's history")).toBe('PCL_CLAIM_MISMATCH')
    expect(code('bulk export in one request')).toBe('PCL_TOO_MANY_ITEMS')
    expect(code('a scraping loop over every id')).toBe('PCL_RATE_LIMITED')
    expect(steps.find((s) => s.attempt === 'a handler that returns the whole row')?.ok).toBe(true)
    // Bulk extraction with a valid token: everything without the limits, a bounded share with.
    expect(
      steps.find((s) => s.attempt === 'a valid token pages through all history'),
    ).toMatchObject({
      status: 429,
      code: 'PCL_BUDGET_EXHAUSTED',
      note: 'without limits: 20 of 20 requests, 400 rows; with: 5 of 20 requests, 100 rows',
    })
    expect(
      steps.find((s) => s.attempt === "a valid token walks every user's history"),
    ).toMatchObject({
      status: 429,
      code: 'PCL_ENUMERATION',
      note: 'without limits: 40 of 40 requests, 400 rows; with: 5 of 40 requests, 50 rows',
    })
  })
})
