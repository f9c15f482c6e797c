// Ways around the guard on Fastify (issue 17): what an attacker, or an app hook, could use to get
// a request past the guard. test/express/bypass.test.ts holds the Express counterparts.
import portcullis, { isPortcullisError, type Principal } from '@portcullis/fastify'
import { policyPlugin } from '@portcullis/policy'
import { createTestIssuer, bearer } from '@portcullis/testing'
import { tokensPlugin } from '@portcullis/tokens'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { guardedApp, trustedTokens, type GuardedApp } from '../helpers.js'

let current: GuardedApp | undefined
const apps: FastifyInstance[] = []
afterEach(async () => {
  await current?.app.close().catch(() => undefined)
  current = undefined
  await Promise.all(apps.splice(0).map((app) => app.close().catch(() => undefined)))
})

// What a legacy API-key hook, or a test shortcut left in, might plant.
const planted: Principal = Object.freeze({
  subject: 'admin',
  issuer: 'https://auth.test',
  clientId: null,
  scopes: new Set(['admin']),
  claims: { sub: 'admin' },
  expiresAt: null,
})

function plant(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    ;(request as unknown as { principal: Principal }).principal = planted
    done()
  })
}

describe('a request.principal that Portcullis did not set', () => {
  it.each([
    ['added before Portcullis', 'before'],
    ['added after Portcullis', 'after'],
  ] as const)('an onRequest hook %s cannot open an admin route', async (_name, where) => {
    let seen: unknown = 'handler never ran'
    current = await guardedApp(
      (app) => {
        if (where === 'after') plant(app)
        app.get('/admin', { config: { guard: { scopes: ['admin'] } } }, (request) => {
          seen = request.principal?.subject
          return { ok: true }
        })
      },
      where === 'before' ? { before: plant } : {},
    )
    const { app, issuer } = current
    const anonymous = await app.inject('/admin')
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.json()).toMatchObject({ code: 'PCL_TOKEN_MISSING' })

    const reader = await app.inject({
      url: '/admin',
      headers: bearer(await issuer.token({ sub: 'user-1', scope: 'videos:read' })),
    })
    expect(reader.statusCode).toBe(403)
    expect(seen).toBe('handler never ran')

    // An allowed request: the handler sees the verified principal, not the planted one.
    const admin = await app.inject({
      url: '/admin',
      headers: bearer(await issuer.token({ sub: 'real-admin', scope: 'admin' })),
    })
    expect(admin.statusCode).toBe(200)
    expect(seen).toBe('real-admin')
  })
})

describe('registering Portcullis twice', () => {
  async function issuerOptions() {
    const issuer = await createTestIssuer()
    return { tokens: trustedTokens(issuer), response: { requireResponse: false } }
  }

  it('@portcullis/fastify: a catchable PortcullisConfigError, not a crash', async () => {
    const options = await issuerOptions()
    const app = Fastify()
    apps.push(app)
    await app.register(portcullis, options)
    const err = await app.register(portcullis, options).then(
      () => null,
      (e: unknown) => e,
    )
    expect(isPortcullisError(err)).toBe(true)
    expect(err).toMatchObject({ code: 'PCL_INVALID_OPTIONS' })
    expect(String((err as Error).message)).toMatch(/already registered/)
  })

  it('a single plugin registered again in a child context is refused too', async () => {
    const { tokens } = await issuerOptions()
    const app = Fastify()
    apps.push(app)
    await app.register(tokensPlugin, tokens)
    await app.register(policyPlugin)
    const inner = await app
      .register(async (child) => {
        await child.register(tokensPlugin, tokens)
      })
      .then(
        () => null,
        (e: unknown) => e,
      )
    expect(inner).toMatchObject({ code: 'PCL_INVALID_OPTIONS' })
    expect(String((inner as Error).message)).toContain('@portcullis/tokens')
  })
})
