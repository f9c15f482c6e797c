import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { createGuard, type Guard } from '@portcullis/express'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpsGet, identity, type HttpsAnswer, type Identity } from '../certificates.js'
import { trustedTokens } from '../helpers.js'

// Certificate-bound access tokens (RFC 8705) through the Express adapter, over a real TLS server
// on loopback: the shared authenticator reads the client certificate from `req.socket`.
// test/fastify/mtls.test.ts holds the fuller list.

let issuer: TestIssuer
let guard: Guard
let server: Server
let port: number
let runs = 0
let alice: Identity
let mallory: Identity

beforeAll(async () => {
  const ca = identity('Portcullis Test CA')
  const caIssuer = { cn: 'Portcullis Test CA', key: ca.key }
  alice = identity('alice-svc', caIssuer)
  mallory = identity('mallory-svc', caIssuer)
  const host = identity('127.0.0.1')
  issuer = await createTestIssuer({ issuer: 'https://auth.mtls.test', audience: 'videos-api' })
  guard = createGuard({
    tokens: { ...trustedTokens(issuer), realm: 'videos' },
    response: { requireResponse: false },
    logger: { info() {}, warn() {}, error() {} },
  })
  const app = express()
  app.get('/v1/videos/:id', guard({ authenticated: true }), (req, res) => {
    runs++
    res.json({ sub: req.principal?.subject })
  })
  guard.seal(app)
  // RFC 8705 §3: the binding authenticates, not the CA; the TLS layer does not judge them.
  server = createServer(
    { key: host.keyPem, cert: host.certPem, requestCert: true, rejectUnauthorized: false },
    app,
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await guard.close()
  await issuer.close()
})

/** One HTTPS request for /v1/videos/1, presenting `client`'s certificate (or none). */
const get = (headers: Record<string, string>, client?: Identity): Promise<HttpsAnswer> =>
  httpsGet(port, '/v1/videos/1', headers, client)

describe('certificate-bound tokens on Express (RFC 8705)', () => {
  it('are served over a connection presenting the bound certificate, cached or not', async () => {
    const token = await issuer.token({ sub: 'alice', cnf: { 'x5t#S256': alice.thumbprint } })
    const first = await get(bearer(token), alice)
    expect(first.status).toBe(200)
    expect(JSON.parse(first.body)).toEqual({ sub: 'alice' })
    expect((await get(bearer(token), alice)).status).toBe(200)
  })

  it('are refused with another certificate, or none, and the handler never runs', async () => {
    const token = await issuer.token({ sub: 'alice', cnf: { 'x5t#S256': alice.thumbprint } })
    const before = runs
    for (const client of [mallory, undefined]) {
      const res = await get(bearer(token), client)
      expect(res.status).toBe(401)
      expect(JSON.parse(res.body)).toMatchObject({ code: 'PCL_TOKEN_BINDING_MISMATCH' })
      expect(res.headers['www-authenticate']).toMatch(
        /^Bearer realm="videos", error="invalid_token"/,
      )
    }
    expect(runs).toBe(before)
  })
})
