// Opaque access tokens checked by introspection (RFC 7662) against a real authorization server
// (oidc-provider on loopback, test/authorization-server.ts), on Fastify and Express alike: one
// call per token however many requests race for it, answers cached never past `exp` or
// `cacheTtl`, inactive tokens refused, an endpoint outage a 503 unless a cached answer is still
// valid. Also the step-up interop (RFC 9470): the acr and auth_time oidc-provider puts in its
// introspection answers decide `guard.acr` and `guard.maxAuthAge`.
import type { AuditEvent, TokensOptions } from '@portcullis/fastify'
import type { Principal } from '@portcullis/core'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  GOLD,
  SILVER,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../authorization-server.js'
import { guardedExpress } from '../express/helpers.js'
import { guardedApp, trustedTokens } from '../helpers.js'

interface Reply {
  status: number
  header(name: string): string | null
  json(): Record<string, unknown>
}

interface App {
  call(path: string, token: string): Promise<Reply>
  events: AuditEvent[]
  logs: string[]
  close(): Promise<void>
}

type Introspection = Partial<
  Extract<TokensOptions['issuers'][number], { introspection: unknown }>['introspection']
>

let as: AuthorizationServer
let jwtIssuer: TestIssuer
beforeAll(async () => {
  as = await startAuthorizationServer()
  jwtIssuer = await createTestIssuer()
})
afterAll(async () => {
  await as.stop()
})

const STEP_UP = { scopes: ['videos:read'], acr: [GOLD], maxAuthAge: '15 minutes' }

function tokensOptions(base: TokensOptions, introspection: Introspection): TokensOptions {
  return {
    ...base,
    issuers: [
      ...base.issuers,
      {
        issuer: as.issuer,
        audience: ['other-api', as.audience],
        introspection: {
          endpoint: as.endpoint,
          clientId: as.clientId,
          clientSecret: as.clientSecret,
          timeout: 500,
          ...introspection,
        },
      },
    ],
  }
}

const principalView = (principal: Principal | null | undefined) => ({
  subject: principal?.subject,
  clientId: principal?.clientId,
  issuer: principal?.issuer,
  scopes: [...(principal?.scopes ?? [])],
})

/** The same two routes on either adapter, with these tokens options. */
async function build(adapter: string, tokens: TokensOptions): Promise<App> {
  if (adapter === 'fastify') {
    const t = await guardedApp(
      (app) => {
        app.get('/v', { config: { guard: { scopes: ['videos:read'] } } }, (req) =>
          principalView(req.principal),
        )
        app.get('/mfa', { config: { guard: STEP_UP } }, () => ({ ok: true }))
      },
      { portcullis: { tokens } },
    )
    return {
      events: t.events,
      logs: t.logs,
      async call(path, token) {
        const res = await t.app.inject({ url: path, headers: bearer(token) })
        return {
          status: res.statusCode,
          header: (name) => (res.headers[name] as string | undefined) ?? null,
          json: () => res.json(),
        }
      },
      close: () => t.app.close(),
    }
  }
  const t = await guardedExpress(
    (app, guard) => {
      app.get('/v', guard({ scopes: ['videos:read'] }), (req, res) => {
        res.json(principalView(req.principal))
      })
      app.get('/mfa', guard(STEP_UP), (_req, res) => void res.json({ ok: true }))
    },
    { portcullis: { tokens } },
  )
  return {
    events: t.events,
    logs: t.logs,
    async call(path, token) {
      const res = await t.request(path, { headers: bearer(token) })
      return { status: res.status, header: (name) => res.headers.get(name), json: () => res.json() }
    },
    close: () => t.close(),
  }
}

describe.each(['fastify', 'express'])('%s', (adapter) => {
  let app: App | undefined
  const start = async (introspection: Introspection = {}): Promise<App> => {
    app = await build(adapter, tokensOptions(trustedTokens(jwtIssuer), introspection))
    return app
  }
  afterEach(async () => {
    vi.useRealTimers()
    as.mode = 'up'
    as.delayMs = 0
    await app?.close()
    app = undefined
  })

  it('an active opaque token: its scope, client and issuer make the principal (one call)', async () => {
    const t = await start()
    const token = await as.token('videos:read')
    const before = as.calls()
    const res = await t.call('/v', token)
    expect(res.status).toBe(200)
    // RFC 9068 §2.2: a client's own token has the client as its subject.
    expect(res.json()).toEqual({
      subject: 'svc',
      clientId: 'svc',
      issuer: as.issuer,
      scopes: ['videos:read'],
    })
    expect((await t.call('/v', token)).status).toBe(200)
    expect(as.calls() - before).toBe(1)
    expect(t.events.at(-1)).toMatchObject({ decision: 'allow', subject: 'svc', clientId: 'svc' })
    for (const line of [...t.logs, ...t.events.map((e) => JSON.stringify(e))]) {
      expect(line).not.toContain(token)
    }
  })

  it('a token without the scope is 403 insufficient_scope', async () => {
    const t = await start()
    const res = await t.call('/v', await as.token('videos:write'))
    expect(res.status).toBe(403)
    expect(res.json()).toMatchObject({ code: 'PCL_INSUFFICIENT_SCOPE' })
  })

  it('active: false (a revoked token, a made-up one) is 401 invalid_token, never cached as valid', async () => {
    const t = await start()
    const token = await as.token('videos:read')
    await as.revoke(token)
    for (const bad of [token, 'made-up-opaque-token']) {
      const res = await t.call('/v', bad)
      expect(res.status).toBe(401)
      expect(res.json()).toMatchObject({ code: 'PCL_TOKEN_INVALID' })
      expect(res.header('www-authenticate')).toMatch(/^Bearer realm="test", error="invalid_token"/)
      expect(JSON.stringify(res.json())).not.toContain(bad)
    }
    for (const line of t.logs) expect(line).not.toContain(token)
  })

  it('100 concurrent requests with one new token make exactly one introspection call', async () => {
    const t = await start()
    const token = await as.token('videos:read')
    as.delayMs = 100
    const before = as.calls()
    const replies = await Promise.all(Array.from({ length: 100 }, () => t.call('/v', token)))
    expect(replies.map((r) => r.status)).toEqual(Array(100).fill(200))
    expect(as.calls() - before).toBe(1)
  })

  it('an outage (503, hang past the timeout, dropped connection) is 503 for a token not cached', async () => {
    const t = await start({ timeout: 200 })
    for (const mode of ['http-503', 'hang', 'drop'] as const) {
      as.mode = mode
      const res = await t.call('/v', await as.token('videos:read'))
      expect(res.status, mode).toBe(503)
      expect(res.json()).toMatchObject({ code: 'PCL_INTROSPECTION_UNAVAILABLE', status: 503 })
      expect(JSON.stringify(res.json())).not.toMatch(/maintenance|127\.0\.0\.1/)
    }
    expect(t.events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_INTROSPECTION_UNAVAILABLE',
    })
  })

  it('during an outage a cached answer still valid is served (200), a new token is 503', async () => {
    const t = await start()
    const cached = await as.token('videos:read')
    expect((await t.call('/v', cached)).status).toBe(200)
    as.mode = 'http-503'
    const calls = as.calls()
    expect((await t.call('/v', cached)).status).toBe(200)
    expect(as.calls()).toBe(calls)
    expect((await t.call('/v', await as.token('videos:read'))).status).toBe(503)
  })

  it('the cache never serves an answer past the token’s exp, even with a longer cacheTtl', async () => {
    const t = await start({ cacheTtl: '1 hour' })
    const token = await as.token('videos:read short-lived') // exp in 2 s
    expect((await t.call('/v', token)).status).toBe(200)
    const calls = as.calls()
    // Past exp (2 s) minus clockTolerance (5 s): the answer is not reused; the server, asked
    // again, says the token is no longer active.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3000 })
    const res = await t.call('/v', token)
    expect(as.calls()).toBe(calls + 1)
    expect(res.status).toBe(401)
  })

  it('the cache keeps an answer no longer than cacheTtl', async () => {
    const t = await start({ cacheTtl: '1s' })
    const token = await as.token('videos:read')
    expect((await t.call('/v', token)).status).toBe(200)
    expect((await t.call('/v', token)).status).toBe(200)
    const calls = as.calls()
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 1500 })
    expect((await t.call('/v', token)).status).toBe(200)
    expect(as.calls()).toBe(calls + 1)
  })

  it('cacheTtl: 0 asks on every request', async () => {
    const t = await start({ cacheTtl: 0 })
    const token = await as.token('videos:read')
    const calls = as.calls()
    await t.call('/v', token)
    await t.call('/v', token)
    expect(as.calls()).toBe(calls + 2)
  })

  it('client_secret_post authenticates too; a wrong secret is a 503, not a 401', async () => {
    const post = await start({
      clientId: 'videos-api-post',
      clientSecret: 'videos-api-post-secret',
      clientAuth: 'client_secret_post',
    })
    expect((await post.call('/v', await as.token('videos:read'))).status).toBe(200)
    await post.close()
    const wrong = await start({ clientSecret: 'not-the-secret' })
    const res = await wrong.call('/v', await as.token('videos:read'))
    expect(res.status).toBe(503)
    expect(JSON.stringify(res.json())).not.toContain('not-the-secret')
  })

  it('an audience the answer does not name is 401', async () => {
    app = await build(adapter, {
      realm: 'test',
      issuers: [
        {
          issuer: as.issuer,
          audience: 'some-other-api',
          introspection: {
            endpoint: as.endpoint,
            clientId: as.clientId,
            clientSecret: as.clientSecret,
          },
        },
      ],
    })
    const res = await app.call('/v', await as.token('videos:read'))
    expect(res.status).toBe(401)
    expect(res.json()).toMatchObject({ code: 'PCL_TOKEN_INVALID' })
  })

  describe('step-up interop (RFC 9470): acr and auth_time from the introspection answer', () => {
    it('a gold, recent login passes', async () => {
      const t = await start()
      expect((await t.call('/mfa', await as.token('videos:read mfa'))).status).toBe(200)
    })

    it('a silver login is 401 insufficient_user_authentication with acr_values and max_age', async () => {
      const t = await start()
      const res = await t.call('/mfa', await as.token('videos:read'))
      expect(res.status).toBe(401)
      expect(res.header('www-authenticate')).toBe(
        `Bearer realm="test", error="insufficient_user_authentication", error_description="Stronger or more recent authentication required", acr_values="${GOLD}", max_age="900"`,
      )
      expect(res.json()).toMatchObject({
        code: 'PCL_INSUFFICIENT_AUTHENTICATION',
        detail: 'A different authentication level is required',
      })
      expect(JSON.stringify(res.json())).not.toContain(SILVER)
    })

    it('a gold login an hour old is 401: more recent authentication is required', async () => {
      const t = await start()
      const res = await t.call('/mfa', await as.token('videos:read mfa stale-login'))
      expect(res.status).toBe(401)
      expect(res.json()).toMatchObject({
        code: 'PCL_INSUFFICIENT_AUTHENTICATION',
        detail: 'More recent authentication is required',
      })
    })
  })

  it('connection refused: the server gone is 503', async () => {
    const token = await as.token('videos:read')
    const gone = await startAuthorizationServer()
    await gone.stop()
    const t = await start({ endpoint: gone.endpoint })
    const res = await t.call('/v', token)
    expect(res.status).toBe(503)
    expect(res.json()).toMatchObject({ code: 'PCL_INTROSPECTION_UNAVAILABLE' })
  })

  it('a JWT beside the opaque tokens still goes to its own issuer, with no introspection call', async () => {
    const t = await start()
    const calls = as.calls()
    expect(
      (await t.call('/v', await jwtIssuer.token({ sub: 'u', scope: 'videos:read' }))).status,
    ).toBe(200)
    expect(as.calls()).toBe(calls)
  })
})
