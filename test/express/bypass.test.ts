// Ways around the guard on Express (issue 17): what an attacker, or an app's middleware, could use
// to get a request past the guard. test/fastify/bypass.test.ts holds the Fastify counterparts.
import type { Principal } from '@portcullis/express'
import { bearer } from '@portcullis/testing'
import type { NextFunction, Request, Response } from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import { guardedExpress, thrown, type GuardedExpress } from './helpers.js'

let current: GuardedExpress | undefined
afterEach(async () => {
  await current?.close()
  current = undefined
})

// What a legacy API-key middleware, or a test shortcut left in, might plant.
const planted = Object.freeze({
  subject: 'admin',
  issuer: 'https://auth.test',
  clientId: null,
  scopes: new Set(['admin']),
  claims: { sub: 'admin' },
}) as unknown as Principal

describe('a req.principal that Portcullis did not set', () => {
  it('a middleware before the route cannot open an admin route', async () => {
    let seen: unknown = 'handler never ran'
    current = await guardedExpress((app, guard) => {
      app.use(
        guard.passThrough((req, _res, next) => {
          ;(req as unknown as { principal: Principal }).principal = planted
          next()
        }, 'a legacy API-key shortcut'),
      )
      app.get('/admin', guard({ scopes: ['admin'] }), (req, res) => {
        seen = req.principal?.subject
        res.json({ ok: true })
      })
    })
    const { issuer } = current
    const anonymous = await current.request('/admin')
    expect(anonymous.status).toBe(401)
    expect(anonymous.json()).toMatchObject({ code: 'PCL_TOKEN_MISSING' })

    const reader = await current.request('/admin', {
      headers: bearer(await issuer.token({ sub: 'user-1', scope: 'videos:read' })),
    })
    expect(reader.status).toBe(403)
    expect(seen).toBe('handler never ran')

    const admin = await current.request('/admin', {
      headers: bearer(await issuer.token({ sub: 'real-admin', scope: 'admin' })),
    })
    expect(admin.status).toBe(200)
    expect(seen).toBe('real-admin')
  })
})

describe('a req.principal assigned after the guard', () => {
  it('is ignored, and said once: the handler sees the verified principal', async () => {
    let seen: unknown
    current = await guardedExpress((app, guard) => {
      app.get(
        '/admin',
        guard({ scopes: ['admin'] }),
        (req, _res, next) => {
          ;(req as unknown as { principal: Principal }).principal = planted
          next()
        },
        (req, res) => {
          seen = req.principal?.subject
          res.json({ ok: true })
        },
      )
    })
    const headers = bearer(await current.issuer.token({ sub: 'real-admin', scope: 'admin' }))
    expect((await current.request('/admin', { headers })).status).toBe(200)
    expect(seen).toBe('real-admin')
    expect((await current.request('/admin', { headers })).status).toBe(200)
    expect(current.logs.filter((l) => l.includes('req.principal was assigned'))).toHaveLength(1)
  })
})

describe('app.param callbacks', () => {
  it('are refused at seal: they run before the route guard', async () => {
    let loads = 0
    const err = await guardedExpress(
      (app, guard) => {
        app.param('videoId', (_req, _res, next) => {
          loads++
          next()
        })
        app.get('/videos/:videoId', guard({ scopes: ['videos:read'] }), (_req, res) => {
          res.json({ ok: true })
        })
      },
      { seal: false },
    ).then((t) => {
      current = t
      return thrown(() => t.guard.seal(t.app))
    })
    expect(err).toMatchObject({ code: 'PCL_UNGUARDED_ROUTE' })
    expect(err.message).toContain('PARAM :videoId at /')
    expect(err.message).toContain('app.param callbacks run before the guard')
    // Nothing was sealed: an anonymous request never reached the param callback either way.
    expect(loads).toBe(0)
  })

  it('on a nested router too', async () => {
    const express = (await import('express')).default
    const err = await guardedExpress(
      (app, guard) => {
        const router = express.Router()
        router.param('id', (_req, _res, next) => next())
        router.get('/:id', guard({ scopes: ['videos:read'] }), (_req, res) => {
          res.json({ ok: true })
        })
        app.use('/v1/videos', router)
      },
      { seal: false },
    ).then((t) => {
      current = t
      return thrown(() => t.guard.seal(t.app))
    })
    expect(err.message).toContain('PARAM :id at /v1/videos')
  })

  it('declared after seal (a kept router, a module loaded later): refused, never run', async () => {
    const express = (await import('express')).default
    const router = express.Router()
    let loads = 0
    current = await guardedExpress((app, guard) => {
      router.get('/:id', guard({ scopes: ['videos:read'] }), (_req, res) => {
        res.json({ ok: true })
      })
      app.use('/v1/videos', router)
    })
    const load = (_req: unknown, _res: unknown, next: () => void) => {
      loads++
      next()
    }
    for (const declare of [() => router.param('id', load), () => current!.app.param('id', load)]) {
      expect(thrown(declare)).toMatchObject({ code: 'PCL_UNGUARDED_ROUTE' })
    }
    expect((await current.request('/v1/videos/1')).status).toBe(401)
    expect(loads).toBe(0)
  })
})

describe('bodies the guard cannot read whole', () => {
  it('an async generator sent as JSON is refused (500), and returned', async () => {
    let body: AsyncGenerator<unknown> | undefined
    current = await guardedExpress((app, guard) => {
      app.get('/gen', guard({ authenticated: true, response: { allow: ['id'] } }), (_req, res) => {
        body = (async function* () {
          yield { id: 1, secret: 'whole row' }
        })()
        res.json(body)
      })
    })
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    const res = await current.request('/gen', { headers })
    expect(res.status).toBe(500)
    expect(res.json()).toMatchObject({ code: 'PCL_RESPONSE_REJECTED' })
    expect(res.body).not.toContain('whole row')
    expect(await body!.next()).toMatchObject({ done: true })
  })
})

describe('the pre-auth limiter, on by default with rateLimit', () => {
  it.each([
    ['default (20 failures per minute per address)', {}, 429],
    ['preAuth: false', { preAuth: false as const }, 401],
  ] as const)('%s: forged token 21 from one address', async (_name, extra, status) => {
    current = await guardedExpress(
      (app, guard) => {
        app.get('/v', guard({ authenticated: true }), (_req, res) => {
          res.json({ ok: true })
        })
      },
      { portcullis: { rateLimit: { max: 1_000, timeWindow: '1 minute', ...extra } } },
    )
    const forged = `${(await current.issuer.token({ sub: 'u' })).slice(0, -4)}AAAA`
    const headers = { authorization: `Bearer ${forged}` }
    for (let i = 0; i < 20; i++) expect((await current.request('/v', { headers })).status).toBe(401)
    const next = await current.request('/v', { headers })
    expect(next.status).toBe(status)
  })

  it('counts refused tokens only: an outage of the revocation store counts nothing', async () => {
    const { createTestIssuer } = await import('@portcullis/testing')
    const { trustedTokens } = await import('../helpers.js')
    const issuer = await createTestIssuer()
    let down = true
    current = await guardedExpress(
      (app, guard) => {
        app.get('/v', guard({ authenticated: true }), (_req, res) => {
          res.json({ ok: true })
        })
      },
      {
        issuer,
        portcullis: {
          rateLimit: { max: 1_000, timeWindow: '1 minute' },
          tokens: {
            ...trustedTokens(issuer),
            isRevoked: () => {
              if (down) throw new Error('revocation store down')
              return false
            },
          },
        },
      },
    )
    const headers = bearer(await issuer.token({ sub: 'u' }))
    for (let i = 0; i < 21; i++) expect((await current.request('/v', { headers })).status).toBe(503)
    down = false
    expect((await current.request('/v', { headers })).status).toBe(200)
  })
})

describe('nothing hangs: user callbacks have a deadline', () => {
  const never = () => new Promise<never>(() => undefined)

  it('a check that never settles: 503 PCL_CHECK_UNAVAILABLE after callbackTimeout', async () => {
    let runs = 0
    current = await guardedExpress(
      (app, guard) => {
        app.get('/v', guard({ authenticated: true, check: never }), (_req, res) => {
          runs++
          res.json({ ok: true })
        })
      },
      { portcullis: { callbackTimeout: 50 } },
    )
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    const res = await current.request('/v', { headers })
    expect(res.status).toBe(503)
    expect(res.json()).toMatchObject({ code: 'PCL_CHECK_UNAVAILABLE' })
    expect(runs).toBe(0)
  })

  it('an isRevoked that never settles: 503 PCL_REVOCATION_UNAVAILABLE', async () => {
    const { createTestIssuer } = await import('@portcullis/testing')
    const { trustedTokens } = await import('../helpers.js')
    const issuer = await createTestIssuer()
    current = await guardedExpress(
      (app, guard) => {
        app.get('/v', guard({ authenticated: true }), (_req, res) => {
          res.json({ ok: true })
        })
      },
      {
        issuer,
        portcullis: {
          tokens: { ...trustedTokens(issuer), isRevoked: never, callbackTimeout: '50ms' },
        },
      },
    )
    const res = await current.request('/v', { headers: bearer(await issuer.token({ sub: 'u' })) })
    expect(res.status).toBe(503)
    expect(res.json()).toMatchObject({ code: 'PCL_REVOCATION_UNAVAILABLE' })
  })
})

describe('a middleware that answers before any guard', () => {
  it('is refused at run time: 403 PCL_ROUTE_NOT_GUARDED, audited, nothing of its body sent', async () => {
    current = await guardedExpress((app, guard) => {
      // Passes requests on: fine.
      app.use(
        guard.passThrough((_req, res, next) => {
          res.setHeader('x-request-id', 'r-1')
          next()
        }, 'sets a request id'),
      )
      // Answers them, though declared to pass them on: the path nobody guarded, which `seal`
      // took on trust.
      app.use(
        '/internal/export',
        guard.passThrough((_req, res) => {
          res.json({ rows: ['whole row'] })
        }, 'wrongly declared'),
      )
      app.get('/v', guard({ authenticated: true }), (_req, res) => {
        res.json({ ok: true })
      })
    })
    const res = await current.request('/internal/export')
    expect(res.status).toBe(403)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.json()).toMatchObject({ code: 'PCL_ROUTE_NOT_GUARDED' })
    expect(res.body).not.toContain('whole row')
    expect(current.events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_ROUTE_NOT_GUARDED',
    })
    expect(current.logs.some((l) => l.includes('a response no guard admitted'))).toBe(true)

    // Guarded routes and Portcullis's own answers are unaffected.
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    const ok = await current.request('/v', { headers })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('x-request-id')).toBe('r-1')
    expect((await current.request('/v')).status).toBe(401)
    expect((await current.request('/nowhere')).status).toBe(401)
  })

  it("sends none of its headers: a nested router's OPTIONS answer does not list the methods", async () => {
    const express = (await import('express')).default
    current = await guardedExpress((app, guard) => {
      const v1 = express.Router()
      v1.route('/videos/:id')
        .get(guard({ scopes: ['videos:read'] }), (_req, res) => {
          res.json({ id: 1 })
        })
        .delete(guard({ scopes: ['videos:delete'] }), (_req, res) => {
          res.status(204).end()
        })
      app.use('/v1', v1)
    })
    const options = await current.request('/v1/videos/1', { method: 'OPTIONS' })
    expect(options.status).toBe(403)
    expect(options.json()).toMatchObject({ code: 'PCL_ROUTE_NOT_GUARDED' })
    expect(options.headers.get('allow')).toBeNull()
    expect(options.body).not.toMatch(/GET|DELETE/u)
  })

  it('a body that does not parse is still answered problem+json by the error handler', async () => {
    const express = (await import('express')).default
    current = await guardedExpress((app, guard) => {
      app.use(express.json())
      app.post('/v', guard({ authenticated: true }), (_req, res) => {
        res.json({ ok: true })
      })
    })
    const headers = {
      ...bearer(await current.issuer.token({ sub: 'u' })),
      'content-type': 'application/json',
    }
    const res = await current.request('/v', { method: 'POST', headers, body: '{"broken' })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.json()).toEqual({
      type: expect.stringContaining('pcl_malformed_request'),
      title: 'Malformed request',
      status: 400,
      code: 'PCL_MALFORMED_REQUEST',
    })
    expect(res.body).not.toContain('broken')
    // A body over the parser's limit: its own code, not an HTML page.
    const big = await current.request('/v', {
      method: 'POST',
      headers,
      body: JSON.stringify({ pad: 'x'.repeat(200_000) }),
    })
    expect(big.status).toBe(413)
    expect(big.json()).toMatchObject({ code: 'PCL_BODY_TOO_LARGE' })
  })
})

describe('response calls after an approval', () => {
  // An invalid status (an upstream's, forwarded) makes Express throw after the hold approved the
  // body: the app's error handler that answers next is held like any other response.
  it.each([
    [
      'res.sendStatus(undefined)',
      (res: Response) => res.sendStatus(undefined as unknown as number),
    ],
    [
      'res.json with statusCode 0',
      (res: Response) => {
        res.statusCode = 0
        res.json({ id: 1, ssn: '123-45-6789' })
      },
    ],
    ['res.redirect(1000, ...)', (res: Response) => res.redirect(1000, '/x')],
  ])('%s that throws: the error handler after it is still held', async (_case, answer) => {
    current = await guardedExpress((app, guard) => {
      app.get('/v', guard({ public: 'probe', response: { allow: ['id'] } }), (_req, res) => {
        answer(res)
      })
      app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
        res.status(500).json({ message: err.message, stack: err.stack, secret: 'S3CR3T' })
      })
    })
    const res = await current.request('/v')
    expect(res.status).toBe(500)
    expect(res.body).not.toContain('S3CR3T')
    expect(res.body).not.toContain('stack')
    expect(res.body).not.toContain('123-45-6789')
  })

  it('bytes made in another realm (a vm context) are checked like any others', async () => {
    const { runInNewContext } = await import('node:vm')
    current = await guardedExpress((app, guard) => {
      app.get('/v', guard({ authenticated: true, response: { allow: ['id'] } }), (_req, res) => {
        res.type('json')
        const bytes = Buffer.from(JSON.stringify({ id: 1, ssn: '123-45-6789' }))
        res.end(runInNewContext('new Uint8Array(b)', { b: bytes }) as Uint8Array)
      })
    })
    const headers = bearer(await current.issuer.token({ sub: 'u' }))
    const res = await current.request('/v', { headers })
    expect(res.body).not.toContain('123-45-6789')
  })
})
