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
    const code = (name: string) => steps.find((s) => s.attempt === name)?.code
    expect(code("a billing service's token, stolen")).toBe('PCL_CALLER_NOT_ALLOWED')
    expect(code("a valid token reading another user's history")).toBe('PCL_CLAIM_MISMATCH')
    expect(code('bulk export in one request')).toBe('PCL_TOO_MANY_ITEMS')
    expect(code('a scraping loop over every id')).toBe('PCL_RATE_LIMITED')
    expect(steps.find((s) => s.attempt === 'a handler that returns the whole row')?.ok).toBe(true)
  })
})
