import {
  createDpopKey,
  createTestIssuer,
  signDpopProof,
  type DpopKey,
  type TestIssuer,
} from '@portcullis/testing'
import express from 'express'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { trustedTokens } from '../helpers.js'
import { guardedExpress, type GuardedExpress, type Reply } from './helpers.js'

// DPoP (RFC 9449) through the Express adapter: the same authenticator as Fastify's, with the
// URL as the client sent it (Express strips mount paths from req.url; htu must not be fooled by
// that), the route's guard.dpop, and DPoP challenges on refusals after authentication.
// test/fastify/dpop.test.ts holds the full adversarial list against the shared authenticator.

let issuer: TestIssuer
let key: DpopKey
let other: DpopKey
let h: GuardedExpress
let served = 0

beforeAll(async () => {
  issuer = await createTestIssuer()
  key = await createDpopKey()
  other = await createDpopKey()
  h = await guardedExpress(
    (app, guard) => {
      const count = (_req: express.Request, res: express.Response): void => {
        served++
        res.json({ sub: _req.principal?.subject ?? null })
      }
      app.get('/v1/videos/:id', guard({ scopes: ['videos:read'] }), count)
      app.get('/v1/admin', guard({ scopes: ['admin'] }), count)
      app.get('/v1/dpop-only', guard({ authenticated: true, dpop: true }), count)
      const router = express.Router()
      router.get('/history', guard({ authenticated: true }), count)
      app.use('/v1/users', router)
    },
    { issuer, portcullis: { tokens: { ...trustedTokens(issuer), realm: 'videos' } } },
  )
})

afterAll(async () => {
  await h.close()
  await issuer.close()
})

afterEach(() => {
  served = 0
})

const bound = (scope = 'videos:read') => issuer.token({ scope, cnf: { jkt: key.jkt } })
const htu = (path: string): string => `${h.base}${path}`

async function dpopRequest(path: string, token: string, proof: string): Promise<Reply> {
  return h.request(path, { headers: { authorization: `DPoP ${token}`, dpop: proof } })
}

function expectRefused(reply: Reply, status: number, code: string, challenge: RegExp): void {
  expect(reply.status).toBe(status)
  expect(reply.headers.get('content-type')).toBe('application/problem+json')
  expect(reply.json<{ code: string }>().code).toBe(code)
  expect(reply.headers.get('www-authenticate')).toMatch(challenge)
  expect(served).toBe(0)
}

describe('DPoP on Express', () => {
  it('serves a DPoP-bound token with a proof for this method and URL', async () => {
    const token = await bound()
    const proof = await signDpopProof(key, { token, htu: htu('/v1/videos/1') })
    const reply = await dpopRequest('/v1/videos/1', token, proof)
    expect(reply.status).toBe(200)
    expect(reply.json()).toEqual({ sub: 'user-1' })
  })

  it('refuses the same proof twice (replay)', async () => {
    const token = await bound()
    const proof = await signDpopProof(key, { token, htu: htu('/v1/videos/2') })
    expect((await dpopRequest('/v1/videos/2', token, proof)).status).toBe(200)
    served = 0
    const again = await dpopRequest('/v1/videos/2', token, proof)
    expectRefused(
      again,
      401,
      'PCL_DPOP_PROOF_REPLAYED',
      /^DPoP realm="videos", error="invalid_dpop_proof"/,
    )
  })

  it('refuses a proof for another method, another URL, or signed by another key', async () => {
    const token = await bound()
    const cases = [
      await signDpopProof(key, { token, htm: 'POST', htu: htu('/v1/videos/3') }),
      await signDpopProof(key, { token, htu: htu('/v1/videos/4') }),
      await signDpopProof(other, { token, htu: htu('/v1/videos/3') }),
    ]
    for (const proof of cases) {
      const reply = await dpopRequest('/v1/videos/3', token, proof)
      expect(reply.status, proof).toBe(401)
      expect(reply.headers.get('www-authenticate')).toMatch(/^DPoP realm="videos", error=/)
    }
    expect(served).toBe(0)
  })

  it('checks htu against the URL as sent, not the one a mounted router sees', async () => {
    const token = await bound()
    const full = await signDpopProof(key, { token, htu: htu('/v1/users/history') })
    expect((await dpopRequest('/v1/users/history', token, full)).status).toBe(200)
    served = 0
    const stripped = await signDpopProof(key, { token, htu: htu('/history') })
    const reply = await dpopRequest('/v1/users/history', token, stripped)
    expectRefused(reply, 401, 'PCL_DPOP_PROOF_INVALID', /error="invalid_dpop_proof"/)
  })

  it('refuses a DPoP-bound token presented as Bearer, offering DPoP', async () => {
    const reply = await h.request('/v1/videos/5', {
      headers: { authorization: `Bearer ${await bound()}` },
    })
    expectRefused(
      reply,
      401,
      'PCL_TOKEN_BINDING_MISMATCH',
      /^Bearer realm="videos", error="invalid_token", error_description="[^"]+", DPoP realm="videos", algs="/,
    )
  })

  it('a route with guard.dpop refuses a bearer token, and challenges a missing one with DPoP', async () => {
    const bearer = await h.request('/v1/dpop-only', {
      headers: { authorization: `Bearer ${await issuer.token()}` },
    })
    expectRefused(bearer, 401, 'PCL_DPOP_REQUIRED', /^DPoP realm="videos", error="invalid_token"/)
    const none = await h.request('/v1/dpop-only')
    expectRefused(none, 401, 'PCL_TOKEN_MISSING', /^DPoP realm="videos", algs="[^"]+"$/)
    const token = await bound()
    const proof = await signDpopProof(key, { token, htu: htu('/v1/dpop-only') })
    expect((await dpopRequest('/v1/dpop-only', token, proof)).status).toBe(200)
  })

  it('a missing scope on a DPoP request is challenged under the DPoP scheme', async () => {
    const token = await bound()
    const proof = await signDpopProof(key, { token, htu: htu('/v1/admin') })
    const reply = await dpopRequest('/v1/admin', token, proof)
    expectRefused(
      reply,
      403,
      'PCL_INSUFFICIENT_SCOPE',
      /^DPoP realm="videos", error="insufficient_scope"/,
    )
  })

  it('never logs the token or the proof', async () => {
    const token = await bound()
    const proof = await signDpopProof(key, { token, htu: htu('/v1/admin') })
    await dpopRequest('/v1/admin', token, proof)
    await dpopRequest('/v1/admin', token, proof)
    const text = [...h.logs, JSON.stringify(h.events)].join('\n')
    expect(text).not.toContain(token)
    expect(text).not.toContain(proof)
  })
})
