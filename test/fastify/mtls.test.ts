import { X509Certificate } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import {
  bearer,
  createDpopKey,
  createTestIssuer,
  signDpopProof,
  type TestIssuer,
} from '@portcullis/testing'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpsGet, identity, type HttpsAnswer, type Identity } from '../certificates.js'
import { registerPortcullis } from './sender-constraints.js'

// Certificate-bound access tokens (RFC 8705) over a real TLS server on loopback, with
// certificates the test makes itself (test/certificates.ts).

// --- The server under test ---

let issuer: TestIssuer
let app: FastifyInstance
let port: number
let runs = 0
let ca: Identity
let alice: Identity
let mallory: Identity

beforeAll(async () => {
  ca = identity('Portcullis Test CA')
  const caIssuer = { cn: 'Portcullis Test CA', key: ca.key }
  alice = identity('alice-svc', caIssuer)
  mallory = identity('mallory-svc', caIssuer)
  const server = identity('127.0.0.1')
  // The hand-made certificates parse, and their thumbprint is the one Node computes.
  expect(new X509Certificate(alice.certPem).fingerprint256.replace(/:/g, '')).toBe(
    Buffer.from(alice.thumbprint, 'base64url').toString('hex').toUpperCase(),
  )

  issuer = await createTestIssuer({ issuer: 'https://auth.mtls.test', audience: 'videos-api' })
  app = Fastify({
    logger: false,
    https: {
      key: server.keyPem,
      cert: server.certPem,
      ca: ca.certPem,
      requestCert: true,
      // RFC 8705 §3: the binding, not the CA, is what authenticates; self-signed client
      // certificates are allowed, so the TLS layer does not judge them.
      rejectUnauthorized: false,
    },
  })
  await registerPortcullis(app, issuer)
  app.get('/v1/videos/:id', { config: { guard: { authenticated: true } } }, (req) => {
    runs++
    return { sub: req.principal?.subject }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  port = (app.server.address() as AddressInfo).port
})

afterAll(async () => {
  await app?.close()
})

/** One HTTPS request for /v1/videos/1, presenting `client`'s certificate (or none). */
const get = (headers: Record<string, string>, client?: Identity): Promise<HttpsAnswer> =>
  httpsGet(port, '/v1/videos/1', headers, client)

const MISMATCH =
  /^Bearer realm="videos", error="invalid_token", error_description="Access token not bound to this sender"$/

async function expectMismatch(headers: Record<string, string>, client?: Identity): Promise<void> {
  const before = runs
  const res = await get(headers, client)
  expect(res.status).toBe(401)
  expect(res.headers['content-type']).toBe('application/problem+json')
  expect(JSON.parse(res.body)).toMatchObject({ code: 'PCL_TOKEN_BINDING_MISMATCH', status: 401 })
  expect(res.headers['www-authenticate']).toMatch(MISMATCH)
  expect(runs).toBe(before)
}

describe('certificate-bound tokens (RFC 8705)', () => {
  it('are served over a connection presenting the bound certificate', async () => {
    const token = await issuer.token({ sub: 'alice', cnf: { 'x5t#S256': alice.thumbprint } })
    const res = await get(bearer(token), alice)
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ sub: 'alice' })
    // Again, from the verification cache: the certificate is checked on every request.
    expect((await get(bearer(token), alice)).status).toBe(200)
  })

  it('are refused with another certificate, even one the same CA issued', async () => {
    const token = await issuer.token({ sub: 'alice', cnf: { 'x5t#S256': alice.thumbprint } })
    await expectMismatch(bearer(token), mallory)
    // Verified and cached first with the right certificate, then replayed with another.
    expect((await get(bearer(token), alice)).status).toBe(200)
    await expectMismatch(bearer(token), mallory)
  })

  it('are refused without a client certificate', async () => {
    const token = await issuer.token({ sub: 'alice', cnf: { 'x5t#S256': alice.thumbprint } })
    await expectMismatch(bearer(token))
  })

  it('are refused over plain HTTP (no TLS connection at all)', async () => {
    const token = await issuer.token({ sub: 'alice', cnf: { 'x5t#S256': alice.thumbprint } })
    const before = runs
    const res = await app.inject({ url: '/v1/videos/1', headers: bearer(token) })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'PCL_TOKEN_BINDING_MISMATCH' })
    expect(res.headers['www-authenticate']).toMatch(MISMATCH)
    expect(runs).toBe(before)
  })

  it('a malformed binding (x5t#S256 not a string) is an invalid token', async () => {
    const token = await issuer.token({ cnf: { 'x5t#S256': 42 } })
    const before = runs
    const res = await get(bearer(token), alice)
    expect(res.status).toBe(401)
    expect(JSON.parse(res.body)).toMatchObject({ code: 'PCL_TOKEN_INVALID' })
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="videos", error="invalid_token"/)
    expect(runs).toBe(before)
  })

  it('unbound tokens do not need a certificate', async () => {
    const token = await issuer.token({ sub: 'bob' })
    expect((await get(bearer(token))).status).toBe(200)
    expect((await get(bearer(token), mallory)).status).toBe(200)
  })

  it('a DPoP proof over TLS names an https: htu, taken from the TLS connection', async () => {
    const client = await createDpopKey()
    const token = await issuer.token({ sub: 'dave', cnf: { jkt: client.jkt } })
    const proof = (htu: string): Promise<string> => signDpopProof(client, { htu, token })
    const ok = await get({
      authorization: `DPoP ${token}`,
      dpop: await proof(`https://127.0.0.1:${port}/v1/videos/1`),
    })
    expect(ok.status).toBe(200)
    const before = runs
    const http = await get({
      authorization: `DPoP ${token}`,
      dpop: await proof(`http://127.0.0.1:${port}/v1/videos/1`),
    })
    expect(http.status).toBe(401)
    expect(JSON.parse(http.body)).toMatchObject({ code: 'PCL_DPOP_PROOF_INVALID' })
    expect(http.headers['www-authenticate']).toMatch(
      /^DPoP realm="videos", error="invalid_dpop_proof"/,
    )
    expect(runs).toBe(before)
  })
})
