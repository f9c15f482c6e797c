import type { AuditEvent } from '@portcullis/core'
import { policyPlugin } from '@portcullis/policy'
import { createPreAuthLimiter, rateLimitPlugin } from '@portcullis/rate-limit'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { tokensPlugin } from '@portcullis/tokens'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'

// The issuer serves its JWKS on loopback and the app has never fetched it: any verification of a
// valid token must fetch it first, so the JWKS request count shows whether verification ran.
let issuer: TestIssuer
let jwksUri: string
beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
  jwksUri = await issuer.listen()
})
afterAll(async () => {
  await issuer.close()
})

let app: FastifyInstance | undefined
afterEach(async () => {
  vi.useRealTimers()
  await app?.close()
  app = undefined
})

async function build(isRevoked?: () => boolean): Promise<{
  app: FastifyInstance
  events: AuditEvent[]
  runs: () => number
}> {
  const events: AuditEvent[] = []
  const audit = (event: AuditEvent): void => void events.push(event)
  let runs = 0
  const built = Fastify()
  await built.register(tokensPlugin, {
    issuers: [{ issuer: issuer.issuer, audience: 'videos-api', algorithms: ['ES256'], jwksUri }],
    audit,
    preAuth: createPreAuthLimiter({ max: 3, timeWindow: '1 minute' }),
    ...(isRevoked === undefined ? {} : { isRevoked }),
  })
  await built.register(policyPlugin, { audit })
  await built.register(rateLimitPlugin, { max: 100, timeWindow: '1 minute', audit })
  built.get('/v', { config: { guard: { authenticated: true } } }, () => {
    runs++
    return 'ok'
  })
  built.get('/healthz', { config: { guard: { public: 'probe' } } }, () => 'ok')
  app = built
  return { app: built, events, runs: () => runs }
}

function from(ip: string, token?: string) {
  return {
    method: 'GET' as const,
    url: '/v',
    remoteAddress: ip,
    headers: token === undefined ? {} : bearer(token),
  }
}

describe('pre-auth limiter', () => {
  it('after max failed tokens from an IP, the next token is refused with 429 before verification', async () => {
    const t = await build()
    const baseline = issuer.jwksRequests
    const garbage = ['not-a-jwt', 'a.b.c', await issuer.bad.algNone()]
    for (const token of garbage) {
      const res = await t.app.inject(from('198.51.100.7', token))
      expect(res.statusCode).toBe(401)
    }
    const valid = await issuer.token({ sub: 'alice' })
    const refused = await t.app.inject(from('198.51.100.7', valid))
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toMatchObject({ code: 'PCL_RATE_LIMITED', status: 429 })
    expect(refused.headers['retry-after']).toBe('60')
    expect(refused.headers['www-authenticate']).toBeUndefined()
    // Not verified: the JWKS, never fetched so far, still was not.
    expect(issuer.jwksRequests).toBe(baseline)
    expect(t.runs()).toBe(0)
    expect(t.events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_RATE_LIMITED',
      status: 429,
      subject: null,
      ip: '198.51.100.7',
    })

    // The same token from another address is verified (which fetches the JWKS) and served.
    const served = await t.app.inject(from('198.51.100.8', valid))
    expect(served.statusCode).toBe(200)
    expect(issuer.jwksRequests).toBe(baseline + 1)
    // The throttled address stays refused, even with the token now cached as valid.
    expect((await t.app.inject(from('198.51.100.7', valid))).statusCode).toBe(429)
  })

  it('does not throttle requests without a token, nor count successful verifications', async () => {
    const t = await build()
    for (const token of ['x', 'y', 'z']) {
      await t.app.inject(from('198.51.100.20', token))
    }
    const anonymous = await t.app.inject(from('198.51.100.20'))
    expect(anonymous.statusCode).toBe(401)
    const probe = await t.app.inject({ url: '/healthz', remoteAddress: '198.51.100.20' })
    expect(probe.statusCode).toBe(200)

    const valid = await issuer.token({ sub: 'bob' })
    for (let i = 0; i < 6; i++) {
      expect((await t.app.inject(from('198.51.100.21', valid))).statusCode).toBe(200)
    }
  })

  it('counts refused tokens only: an outage of the revocation store counts nothing', async () => {
    let down = true
    const t = await build(() => {
      if (down) throw new Error('revocation store down')
      return false
    })
    const valid = await issuer.token({ sub: 'dave' })
    for (let i = 0; i < 4; i++) {
      expect((await t.app.inject(from('198.51.100.40', valid))).statusCode).toBe(503)
    }
    down = false
    expect((await t.app.inject(from('198.51.100.40', valid))).statusCode).toBe(200)
  })

  it('counts in a fixed window: the address may try again once it has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const t = await build()
    for (const token of ['x', 'y', 'z']) {
      await t.app.inject(from('198.51.100.30', token))
    }
    const valid = await issuer.token({ sub: 'carol' })
    expect((await t.app.inject(from('198.51.100.30', valid))).statusCode).toBe(429)
    vi.setSystemTime(Date.now() + 60_001)
    expect((await t.app.inject(from('198.51.100.30', valid))).statusCode).toBe(200)
  })
})
