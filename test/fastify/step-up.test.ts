// Step-up authentication (RFC 9470) beyond the shared access cases (test/cases/access.ts): the
// report-only rollout on both adapters, `extends` merges, the inventory, explain and the policy
// gate. Tokens are minted by @portcullis/testing; the interop run against a real authorization
// server is in test/fastify/introspection.test.ts (an oidc-provider token carrying acr).
import { compareRegisters, registerDocument } from '@portcullis/policy'
import { bearer } from '@portcullis/testing'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { guardedExpress, type GuardedExpress } from '../express/helpers.js'
import { guardedApp, readyError, type GuardedApp } from '../helpers.js'

const GOLD = 'urn:mace:incommon:iap:gold'
const SILVER = 'urn:mace:incommon:iap:silver'
const now = (): number => Math.floor(Date.now() / 1000)

let fastifyApp: GuardedApp | undefined
let expressApp: GuardedExpress | undefined
afterEach(async () => {
  await fastifyApp?.app.close().catch(() => undefined)
  await expressApp?.close().catch(() => undefined)
  fastifyApp = undefined
  expressApp = undefined
})

describe('report-only: a step-up denial is reported, the request served', () => {
  it('Fastify', async () => {
    let runs = 0
    fastifyApp = await guardedApp(
      (app) => {
        app.get('/s', { config: { guard: { acr: [GOLD] } } }, () => {
          runs++
          return 'ok'
        })
      },
      { portcullis: { reportOnly: true } },
    )
    const { app, issuer, events } = fastifyApp
    const res = await app.inject({
      url: '/s',
      headers: bearer(await issuer.token({ sub: 'u', acr: SILVER })),
    })
    expect(res.statusCode).toBe(200)
    expect(res.headers['www-authenticate']).toBeUndefined()
    expect(runs).toBe(1)
    expect(events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_INSUFFICIENT_AUTHENTICATION',
      reportOnly: true,
      status: 401,
    })
  })

  it('Express', async () => {
    let runs = 0
    expressApp = await guardedExpress(
      (app, guard) => {
        app.get('/s', guard({ maxAuthAge: '5 minutes' }), (_req, res) => {
          runs++
          res.send('ok')
        })
      },
      { portcullis: { reportOnly: true } },
    )
    const { issuer, events } = expressApp
    const res = await expressApp.request('/s', {
      headers: bearer(await issuer.token({ sub: 'u', auth_time: now() - 3600 })),
    })
    expect(res.status).toBe(200)
    expect(runs).toBe(1)
    expect(events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_INSUFFICIENT_AUTHENTICATION',
      reportOnly: true,
    })
  })

  it('Express, enforced: 401 with the challenge and problem+json', async () => {
    expressApp = await guardedExpress((app, guard) => {
      app.get('/s', guard({ acr: [GOLD], maxAuthAge: 60 }), (_req, res) => void res.send('ok'))
    })
    const { issuer, events } = expressApp
    const res = await expressApp.request('/s', {
      headers: bearer(await issuer.token({ sub: 'u', acr: GOLD, auth_time: now() - 120 })),
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer realm="test", error="insufficient_user_authentication", error_description="Stronger or more recent authentication required", acr_values="${GOLD}", max_age="60"`,
    )
    expect(res.json()).toMatchObject({
      code: 'PCL_INSUFFICIENT_AUTHENTICATION',
      status: 401,
      detail: 'More recent authentication is required',
    })
    expect(events.at(-1)).toMatchObject({ decision: 'deny', status: 401, subject: 'u' })
  })
})

describe('maxAuthAge is measured when the request comes, not when the token was cached', () => {
  it('a token fresh enough at first is refused once its auth_time ages past the limit', async () => {
    fastifyApp = await guardedApp((app) => {
      app.get('/s', { config: { guard: { maxAuthAge: 2 } } }, () => 'ok')
    })
    const { app, issuer } = fastifyApp
    const headers = bearer(await issuer.token({ sub: 'u', auth_time: now() }))
    expect((await app.inject({ url: '/s', headers })).statusCode).toBe(200)
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3000 })
    try {
      const late = await app.inject({ url: '/s', headers })
      expect(late.statusCode).toBe(401)
      expect(late.json()).toMatchObject({ code: 'PCL_INSUFFICIENT_AUTHENTICATION' })
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('extends and prefix defaults: step-up may be tightened, never loosened', () => {
  it('a route narrowing acr and lowering maxAuthAge starts and enforces both', async () => {
    fastifyApp = await guardedApp(
      (app) => {
        app.get(
          '/s',
          { config: { guard: { extends: 'strong', acr: [GOLD], maxAuthAge: 60 } } },
          () => 'ok',
        )
      },
      { portcullis: { policies: { strong: { acr: [GOLD, SILVER], maxAuthAge: '15 minutes' } } } },
    )
    const { app, issuer } = fastifyApp
    const call = async (claims: Record<string, unknown>) =>
      (await app.inject({ url: '/s', headers: bearer(await issuer.token(claims)) })).statusCode
    expect(await call({ sub: 'u', acr: GOLD, auth_time: now() - 10 })).toBe(200)
    expect(await call({ sub: 'u', acr: SILVER, auth_time: now() - 10 })).toBe(401)
    expect(await call({ sub: 'u', acr: GOLD, auth_time: now() - 120 })).toBe(401)
    const row = app.portcullis.routes().find((r) => r.url === '/s')!
    expect(row.policy).toBe(`acr: ${GOLD}; maxAuthAge: 60s`)
  })

  it('a route inheriting step-up keeps it', async () => {
    fastifyApp = await guardedApp(
      (app) => {
        app.get('/s', { config: { guard: { extends: 'strong', scopes: ['a'] } } }, () => 'ok')
      },
      { portcullis: { policies: { strong: { acr: [GOLD] } } } },
    )
    const { app, issuer } = fastifyApp
    const res = await app.inject({
      url: '/s',
      headers: bearer(await issuer.token({ sub: 'u', scope: 'a' })),
    })
    expect(res.statusCode).toBe(401)
  })

  it.each([
    [{ acr: [GOLD, 'other'] }, 'guard.acr', /adds acr values 'other'/],
    [{ maxAuthAge: '1 hour' }, 'guard.maxAuthAge', /3600s\) would loosen policy 'strong'/],
  ])('%j widening the policy fails startup naming %s', async (guard, field, message) => {
    fastifyApp = await guardedApp(
      (app) => {
        app.get('/s', { config: { guard: { extends: 'strong', ...guard } } }, () => 'ok')
      },
      { portcullis: { policies: { strong: { acr: [GOLD], maxAuthAge: '15 minutes' } } } },
    )
    const err = await readyError(fastifyApp.app)
    expect(err.code).toBe('PCL_INVALID_GUARD')
    expect(err.field).toBe(field)
    expect(err.message).toMatch(message)
  })
})

describe('explain and the policy gate', () => {
  it('explain names the step-up rules and which one fails', async () => {
    fastifyApp = await guardedApp((app) => {
      app.get('/s', { config: { guard: { acr: [GOLD], maxAuthAge: 300 } } }, () => 'ok')
    })
    await fastifyApp.app.ready()
    const why = await fastifyApp.app.portcullis.explain({
      method: 'GET',
      url: '/s',
      claims: { sub: 'u', acr: GOLD, auth_time: now() - 900 },
    })
    expect(why).toMatchObject({ decision: 'deny', status: 401 })
    expect(why.code).toBe('PCL_INSUFFICIENT_AUTHENTICATION')
    expect(why.steps.filter((s) => s.rule === 'acr' || s.rule === 'maxAuthAge')).toEqual([
      { rule: 'acr', requirement: `acr: ${GOLD}`, outcome: 'pass', code: null },
      {
        rule: 'maxAuthAge',
        requirement: 'maxAuthAge: 300s',
        outcome: 'fail',
        code: 'PCL_INSUFFICIENT_AUTHENTICATION',
      },
    ])
  })

  async function register(guard: Record<string, unknown>) {
    const t = await guardedApp((app) => {
      app.get('/s', { config: { guard } }, () => 'ok')
    })
    await t.app.ready()
    const doc = registerDocument(t.app.portcullis.routes())
    await t.app.close()
    return doc
  }

  it('removing acr, accepting another acr value, raising or removing maxAuthAge weakens the policy', async () => {
    const base = await register({ acr: [GOLD], maxAuthAge: 300 })
    expect(base.routes['GET /s']!.access).toMatchObject({ acr: [GOLD], maxAuthAge: 300 })
    const changes = async (guard: Record<string, unknown>) =>
      compareRegisters(base, await register(guard)).map((c) => c.change)
    expect(await changes({ acr: [GOLD], maxAuthAge: '5 minutes' })).toEqual([])
    expect(await changes({ acr: [GOLD], maxAuthAge: 60 })).toEqual([])
    expect(await changes({ maxAuthAge: 300 })).toEqual(['acr (step-up) requirement removed'])
    expect(await changes({ acr: [GOLD, SILVER], maxAuthAge: 300 })).toEqual([
      `acr value '${SILVER}' accepted`,
    ])
    expect(await changes({ acr: [GOLD], maxAuthAge: 600 })).toEqual([
      'maxAuthAge raised from 300s to 600s',
    ])
    expect(await changes({ acr: [GOLD] })).toEqual(['maxAuthAge (step-up) requirement removed'])
  })
})
