import {
  createHash,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import Fastify, { type FastifyInstance } from 'fastify'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerPortcullis } from './sender-constraints.js'

// Certificate-bound access tokens (RFC 8705) over a real TLS server on loopback. Node has no API
// to make X.509 certificates, so the test writes them itself: a few lines of DER, signed with
// node:crypto by a small CA of its own. Nothing outside Node is needed.

// --- A minimal DER writer (X.690), enough for v3 certificates without extensions ---

function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts)
  const length =
    body.length < 0x80
      ? Buffer.from([body.length])
      : body.length < 0x100
        ? Buffer.from([0x81, body.length])
        : Buffer.from([0x82, body.length >> 8, body.length & 0xff])
  return Buffer.concat([Buffer.from([tag]), length, body])
}
const sequence = (...parts: Buffer[]): Buffer => der(0x30, ...parts)
const set = (...parts: Buffer[]): Buffer => der(0x31, ...parts)
function integer(bytes: Buffer): Buffer {
  // A positive INTEGER: a leading zero when the high bit is set.
  return der(0x02, (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes)
}
function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number)
  const bytes = [first * 40 + second]
  for (const arc of rest) {
    const chunk = [arc & 0x7f]
    for (let value = arc >> 7; value > 0; value >>= 7) chunk.unshift((value & 0x7f) | 0x80)
    bytes.push(...chunk)
  }
  return der(0x06, Buffer.from(bytes))
}
const utf8 = (text: string): Buffer => der(0x0c, Buffer.from(text, 'utf8'))
function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'
  return der(0x17, Buffer.from(text, 'ascii'))
}
const bitString = (bytes: Buffer): Buffer => der(0x03, Buffer.from([0]), bytes)

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'))
const commonName = (cn: string): Buffer => sequence(set(sequence(oid('2.5.4.3'), utf8(cn))))

interface Identity {
  readonly key: KeyObject
  readonly keyPem: string
  readonly certPem: string
  /** RFC 8705 §3.1: base64url SHA-256 of the certificate's DER, what cnf["x5t#S256"] holds. */
  readonly thumbprint: string
}

/** A P-256 key and a certificate for `cn`, signed by `issuer` (self-signed without one). */
function identity(cn: string, issuer?: { cn: string; key: KeyObject }): Identity {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const now = Date.now()
  const tbs = sequence(
    der(0xa0, integer(Buffer.from([2]))), // [0] version: v3
    integer(randomBytes(8)),
    ECDSA_WITH_SHA256,
    commonName(issuer?.cn ?? cn),
    sequence(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 86_400_000))),
    commonName(cn),
    publicKey.export({ type: 'spki', format: 'der' }),
  )
  const signature = sign('sha256', tbs, issuer?.key ?? privateKey)
  const certificate = sequence(tbs, ECDSA_WITH_SHA256, bitString(signature))
  const lines = certificate.toString('base64').match(/.{1,64}/g) ?? []
  const certPem = `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`
  return {
    key: privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem,
    thumbprint: createHash('sha256').update(certificate).digest('base64url'),
  }
}

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

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One HTTPS request on its own connection, presenting `client`'s certificate (or none). */
function get(headers: Record<string, string>, client?: Identity): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/videos/1',
        headers,
        agent: false,
        rejectUnauthorized: false,
        ...(client === undefined ? {} : { key: client.keyPem, cert: client.certPem }),
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.once('error', reject)
    req.end()
  })
}

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
    const { publicKey, privateKey } = await generateKeyPair('ES256')
    const jwk = await exportJWK(publicKey)
    const token = await issuer.token({
      sub: 'dave',
      cnf: { jkt: await calculateJwkThumbprint(jwk) },
    })
    const proof = (htu: string): Promise<string> =>
      new SignJWT({
        htm: 'GET',
        htu,
        iat: Math.floor(Date.now() / 1000),
        jti: randomUUID(),
        ath: createHash('sha256').update(token).digest('base64url'),
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .sign(privateKey)
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
