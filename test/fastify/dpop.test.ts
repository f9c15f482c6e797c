import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { AuditEvent } from '@portcullis/fastify'
import type { TokensDpopOptions, TokensRedisClient } from '@portcullis/tokens'
import {
  accessTokenHash,
  createDpopKey,
  createTestIssuer,
  rawToken,
  signDpopProof,
  type DpopKey,
  type DpopProofOptions,
  type KeyPairAlgorithm,
  type TestIssuer,
} from '@portcullis/testing'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { base64url, exportJWK, SignJWT } from 'jose'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { rawRequest } from '../cases/checks.js'
import { runClusterTests, useRedisCluster } from '../rate-limit/redis-cluster.js'
import { runRedisTests } from '../rate-limit/redis-server.js'
import { registerPortcullis, useRedisServer } from './sender-constraints.js'

// DPoP (RFC 9449) end to end, through the umbrella plugin and app.inject(). Every refusal is
// checked the same way: status, problem+json code, WWW-Authenticate, and the handler never ran.

const now = (): number => Math.floor(Date.now() / 1000)

const HOST = 'api.test'
const URL_PATH = '/v1/videos/1'
const HTU = `http://${HOST}${URL_PATH}`

/** What a test says of a proof: `htu` is {@link HTU} unless given. */
type ProofOptions = Partial<DpopProofOptions>

/** A DPoP proof signed by `key` for GET {@link HTU} unless told otherwise, bound to `token`. */
const proof = (key: DpopKey, options: ProofOptions = {}): Promise<string> =>
  signDpopProof(key, { ...options, htu: options.htu ?? HTU })

interface Harness {
  app: FastifyInstance
  events: AuditEvent[]
  runs: () => number
}

let issuer: TestIssuer
let key: DpopKey

beforeAll(async () => {
  issuer = await createTestIssuer({ issuer: 'https://auth.dpop.test', audience: 'videos-api' })
  key = await createDpopKey()
})

const open: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()))
})

async function harness(
  dpop: TokensDpopOptions = {},
  issuerExtra: { dpop?: 'required' | 'allowed' } = {},
): Promise<Harness> {
  const events: AuditEvent[] = []
  let runs = 0
  const app = Fastify({ logger: false })
  await registerPortcullis(app, issuer, {
    tokens: { dpop },
    issuer: issuerExtra,
    audit: (event) => void events.push(event),
  })
  app.get(URL_PATH, { config: { guard: { authenticated: true } } }, (req) => {
    runs++
    return { sub: req.principal?.subject }
  })
  app.post(URL_PATH, { config: { guard: { authenticated: true } } }, () => {
    runs++
    return { ok: true }
  })
  app.get('/v1/files/:name', { config: { guard: { authenticated: true } } }, (req) => {
    runs++
    return { name: (req.params as { name: string }).name }
  })
  app.get('/v1/dpop-only', { config: { guard: { authenticated: true, dpop: true } } }, () => {
    runs++
    return { ok: true }
  })
  app.get('/v1/admin', { config: { guard: { scopes: ['videos:admin'] } } }, () => {
    runs++
    return { ok: true }
  })
  open.push(app)
  return { app, events, runs: () => runs }
}

/** A harness (see {@link harness}) and a token bound to {@link key}. */
async function setup(...args: Parameters<typeof harness>): Promise<{ h: Harness; token: string }> {
  return { h: await harness(...args), token: await boundToken() }
}

const boundToken = (claims: Record<string, unknown> = {}, bound: DpopKey = key): Promise<string> =>
  issuer.token({ cnf: { jkt: bound.jkt }, ...claims })

function call(
  h: Harness,
  headers: Record<string, string | string[]>,
  options: { url?: string; method?: 'GET' | 'POST' } = {},
): Promise<LightMyRequestResponse> {
  return h.app.inject({
    method: options.method ?? 'GET',
    url: options.url ?? URL_PATH,
    headers: { host: HOST, ...headers },
  })
}

function dpopHeaders(token: string, proofValue: string): Record<string, string> {
  return { authorization: `DPoP ${token}`, dpop: proofValue }
}

/** The headers of a DPoP request with `token` and a new proof for it, signed by `signer`. */
async function signed(
  token: string,
  options: ProofOptions = {},
  signer: DpopKey = key,
): Promise<Record<string, string>> {
  return dpopHeaders(token, await proof(signer, { token, ...options }))
}

async function expectRefused(
  h: Harness,
  headers: Record<string, string | string[]>,
  expected: { status?: number; code: string; challenge: RegExp },
  options: { url?: string; method?: 'GET' | 'POST' } = {},
): Promise<LightMyRequestResponse> {
  const before = h.runs()
  const res = await call(h, headers, options)
  expect(res.statusCode).toBe(expected.status ?? 401)
  expect(res.headers['content-type']).toBe('application/problem+json')
  expect(res.json()).toMatchObject({ code: expected.code })
  expect(res.headers['www-authenticate']).toMatch(expected.challenge)
  expect(h.runs()).toBe(before)
  // Neither the token nor the proof is ever echoed.
  for (const value of Object.values(headers).flat()) {
    const secret = value.split(' ').pop() ?? ''
    if (secret.length > 20) expect(res.body).not.toContain(secret)
  }
  return res
}

const ALGS = 'algs="ES256 ES384 ES512 EdDSA Ed25519 RS256 RS384 RS512 PS256 PS384 PS512"'
const INVALID_PROOF = new RegExp(
  `^DPoP realm="videos", error="invalid_dpop_proof", error_description="[^"]+", ${ALGS}$`,
)
const invalidProof = { code: 'PCL_DPOP_PROOF_INVALID', challenge: INVALID_PROOF }
const DPOP_INVALID_TOKEN = new RegExp(
  `^DPoP realm="videos", error="invalid_token", error_description="[^"]+", ${ALGS}$`,
)

describe('a valid DPoP request', () => {
  it('is served, with the principal of the bound token', async () => {
    const h = await harness()
    const token = await boundToken({ sub: 'alice' })
    const res = await call(h, await signed(token))
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ sub: 'alice' })
    // A second request with a new proof: the token comes from the verification cache.
    const again = await call(h, await signed(token))
    expect(again.statusCode).toBe(200)
    expect(h.runs()).toBe(2)
  })

  it('accepts the scheme in any case, and htu normalised per RFC 3986 §6 (query ignored)', async () => {
    const { h, token } = await setup()
    for (const htu of [
      `HTTP://API.TEST:80${URL_PATH}`,
      `http://api.test/v1/%76ideos/1?x=1#frag`,
      `http://api.test/v1/x/../videos/1`,
    ]) {
      const res = await call(h, {
        authorization: `dpop ${token}`,
        dpop: await proof(key, { token, htu }),
      })
      expect(res.statusCode, htu).toBe(200)
    }
  })

  it.each<KeyPairAlgorithm>(['ES384', 'EdDSA', 'RS256', 'PS256'])(
    'accepts a proof signed with %s',
    async (alg) => {
      const h = await harness()
      const other = await createDpopKey(alg)
      const token = await boundToken({}, other)
      const res = await call(h, await signed(token, {}, other))
      expect(res.statusCode).toBe(200)
    },
  )
})

describe('replay', () => {
  it('the same proof (same jti) twice is refused the second time', async () => {
    const { h, token } = await setup()
    const once = await proof(key, { token })
    expect((await call(h, dpopHeaders(token, once))).statusCode).toBe(200)
    await expectRefused(h, dpopHeaders(token, once), {
      code: 'PCL_DPOP_PROOF_REPLAYED',
      challenge: INVALID_PROOF,
    })
  })

  it('a new proof reusing a jti is refused', async () => {
    const { h, token } = await setup()
    const jti = randomUUID()
    expect((await call(h, await signed(token, { jti }))).statusCode).toBe(200)
    await expectRefused(h, await signed(token, { jti }), {
      code: 'PCL_DPOP_PROOF_REPLAYED',
      challenge: INVALID_PROOF,
    })
  })
})

describe('proofs for another request', () => {
  it('another method (htm)', async () => {
    const { h, token } = await setup()
    await expectRefused(h, await signed(token, { htm: 'POST' }), invalidProof)
    await expectRefused(h, await signed(token, { htm: 'get' }), invalidProof)
    await expectRefused(h, await signed(token), invalidProof, {
      method: 'POST',
    })
  })

  it.each([
    ['another path', `http://${HOST}/v1/videos/2`],
    ['another host', `http://other.test${URL_PATH}`],
    ['another scheme', `https://${HOST}${URL_PATH}`],
    ['another port', `http://${HOST}:8080${URL_PATH}`],
    ['a trailing slash', `${HTU}/`],
    ['not a URL', 'videos/1'],
  ])('another URL (htu): %s', async (_what, htu) => {
    const { h, token } = await setup()
    await expectRefused(h, await signed(token, { htu }), invalidProof)
  })

  it('a path with dot segments is compared as the router serves it, never resolved', async () => {
    const { h, token } = await setup()
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = h.app.server.address() as AddressInfo
    // Raw bytes: inject() and fetch resolve dot segments before sending, the way no attacker must.
    const get = async (url: string, htu: string) => {
      const headers = await signed(token, { htu })
      const lines = Object.entries({ host: HOST, ...headers }).map(([n, v]) => `${n}: ${v}`)
      return rawRequest(
        port,
        `GET ${url} HTTP/1.1\r\n${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`,
      )
    }
    expect(await get('/v1/files/a', `http://${HOST}/v1/files/a`)).toMatchObject({ status: 200 })
    // The router serves /v1/files/%2e%2e as /v1/files/:name with name "..": a proof for the URL
    // the dots resolve to (/v1/) must not pass for it, nor one naming it (an htu is resolved).
    const runs = h.runs()
    for (const url of ['/v1/files/%2e%2e', '/v1/files/%2E%2E', '/v1/files/..', '/v1/files/.%2e']) {
      for (const htu of [`http://${HOST}/v1/`, `http://${HOST}${url}`]) {
        const reply = await get(url, htu)
        expect(reply.status, `${url} ${htu}`).toBe(401)
        expect(JSON.parse(reply.body)).toMatchObject({ code: 'PCL_DPOP_PROOF_INVALID' })
      }
    }
    expect(h.runs()).toBe(runs)
    // Percent-encodings of unreserved characters still compare as the characters.
    const encoded = await get('/v1/files/a%2Eb', `http://${HOST}/v1/files/a.b`)
    expect(encoded.status).toBe(200)
    expect(JSON.parse(encoded.body)).toEqual({ name: 'a.b' })
  })

  it('X-Forwarded-* headers never change the origin htu is compared with', async () => {
    const { h, token } = await setup()
    const headers = {
      ...(await signed(token, { htu: `https://public.test${URL_PATH}` })),
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'public.test',
    }
    await expectRefused(h, headers, invalidProof)
  })

  it('dpop.origin: behind a proxy, htu must name the configured public origin', async () => {
    const { h, token } = await setup({
      origin: ['https://public.test', 'https://other.public.test:8443'],
    })
    const publicHtu = `https://public.test${URL_PATH}`
    const ok = await call(h, await signed(token, { htu: publicHtu }))
    expect(ok.statusCode).toBe(200)
    // The Host header no longer counts.
    await expectRefused(h, await signed(token), invalidProof)
  })
})

describe('keys and signatures', () => {
  it('a proof signed by another key than the token is bound to', async () => {
    const { h, token } = await setup()
    const thief = await createDpopKey()
    await expectRefused(h, await signed(token, {}, thief), {
      code: 'PCL_TOKEN_BINDING_MISMATCH',
      challenge: DPOP_INVALID_TOKEN,
    })
  })

  it('a proof whose jwk is the bound key but signed by another key', async () => {
    const { h, token } = await setup()
    const thief = await createDpopKey()
    const forged = await proof({ ...thief, jwk: key.jwk, jkt: key.jkt }, { token })
    await expectRefused(h, dpopHeaders(token, forged), invalidProof)
  })

  it('a symmetric alg (HS256 with an oct jwk) in the proof', async () => {
    const { h, token } = await setup()
    const secret = new Uint8Array(32).fill(7)
    const hs = await new SignJWT({
      htm: 'GET',
      htu: HTU,
      iat: now(),
      jti: randomUUID(),
      ath: accessTokenHash(token),
    })
      .setProtectedHeader({
        alg: 'HS256',
        typ: 'dpop+jwt',
        jwk: { kty: 'oct', k: base64url.encode(secret) } as never,
      })
      .sign(secret)
    await expectRefused(h, dpopHeaders(token, hs), invalidProof)
    // HS256 with the public key's JSON as the secret (algorithm confusion).
    const confused = await new SignJWT({
      htm: 'GET',
      htu: HTU,
      iat: now(),
      jti: randomUUID(),
      ath: accessTokenHash(token),
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk })
      .sign(new TextEncoder().encode(JSON.stringify(key.jwk)))
    await expectRefused(h, dpopHeaders(token, confused), invalidProof)
  })

  it.each(['none', 'None', 'NONE'])('alg: %s (unsigned proof)', async (alg) => {
    const { h, token } = await setup()
    const payload = {
      htm: 'GET',
      htu: HTU,
      iat: now(),
      jti: randomUUID(),
      ath: accessTokenHash(token),
    }
    const header = { alg, typ: 'dpop+jwt', jwk: key.jwk }
    await expectRefused(h, dpopHeaders(token, rawToken(header, payload)), invalidProof)
    await expectRefused(h, dpopHeaders(token, rawToken(header, payload, 'AAAA')), invalidProof)
  })

  it('an algorithm outside dpop.algorithms', async () => {
    const h = await harness({ algorithms: ['ES256'] })
    const rsa = await createDpopKey('RS256')
    const token = await boundToken({}, rsa)
    await expectRefused(h, await signed(token, {}, rsa), {
      code: 'PCL_DPOP_PROOF_INVALID',
      challenge:
        /^DPoP realm="videos", error="invalid_dpop_proof", error_description="[^"]+", algs="ES256"$/,
    })
  })

  it('a private key inside the proof’s jwk', async () => {
    const { h, token } = await setup()
    const privateJwk = await exportJWK(key.privateKey)
    const withPrivate = await proof({ ...key, jwk: privateJwk }, { token })
    await expectRefused(h, dpopHeaders(token, withPrivate), invalidProof)
  })

  it('a proof without jwk, with another typ, or with an unknown crit header', async () => {
    const { h, token } = await setup()
    await expectRefused(h, await signed(token, { header: { jwk: undefined } }), invalidProof)
    for (const typ of ['JWT', 'at+jwt', undefined]) {
      await expectRefused(h, await signed(token, { header: { typ } }), invalidProof)
    }
    const crit = { header: { crit: ['x-unknown'], 'x-unknown': 1 }, crit: { 'x-unknown': true } }
    await expectRefused(h, await signed(token, crit), invalidProof)
  })
})

describe('time', () => {
  it('a proof older than dpop.maxAge (plus the clock tolerance)', async () => {
    const { h, token } = await setup({ maxAge: 30 })
    await expectRefused(h, await signed(token, { iat: now() - 60 }), invalidProof)
    // Within maxAge it passes.
    const fresh = await call(h, await signed(token, { iat: now() - 20 }))
    expect(fresh.statusCode).toBe(200)
  })

  it('a proof from the future (beyond the clock tolerance)', async () => {
    const { h, token } = await setup()
    await expectRefused(h, await signed(token, { iat: now() + 60 }), invalidProof)
  })

  it('a proof without iat or jti, or with a non-string jti', async () => {
    const { h, token } = await setup()
    for (const claims of [
      { iat: undefined },
      { jti: undefined },
      { jti: 42 },
      { htu: undefined },
      { htm: undefined },
    ]) {
      await expectRefused(h, await signed(token, { claims }), invalidProof)
    }
  })
})

describe('ath', () => {
  it('a proof without ath', async () => {
    const { h, token } = await setup()
    await expectRefused(h, dpopHeaders(token, await proof(key, {})), invalidProof)
  })

  it('a proof whose ath is the hash of another token', async () => {
    const { h, token } = await setup()
    const other = await boundToken({ sub: 'someone-else' })
    await expectRefused(h, dpopHeaders(token, await proof(key, { token: other })), invalidProof)
  })
})

describe('malformed and oversized proofs', () => {
  it('a proof above dpop.maxProofBytes is refused before parsing', async () => {
    const { h, token } = await setup({ maxProofBytes: 1024 })
    const big = await proof(key, { token, claims: { pad: 'x'.repeat(2000) } })
    await expectRefused(h, dpopHeaders(token, big), invalidProof)
    // The default limit (4096) too; Node's header limit (16 KiB) is well above it.
    const h2 = await harness()
    const bigger = await proof(key, { token, claims: { pad: 'x'.repeat(5000) } })
    await expectRefused(h2, dpopHeaders(token, bigger), invalidProof)
  })

  it.each([
    ['garbage', 'not-a-jwt'],
    ['four segments', 'a.b.c.d'],
    ['a JSON array header', rawToken([], {}, 'AAAA')],
    ['an empty string', ''],
  ])('%s', async (_what, value) => {
    const { h, token } = await setup()
    await expectRefused(h, dpopHeaders(token, value), invalidProof)
  })

  it('the DPoP scheme without a DPoP header, and two DPoP headers', async () => {
    const { h, token } = await setup()
    await expectRefused(h, { authorization: `DPoP ${token}` }, invalidProof)
    const one = await proof(key, { token })
    const two = await proof(key, { token })
    await expectRefused(h, { authorization: `DPoP ${token}`, dpop: [one, two] }, invalidProof)
  })

  it('a malformed DPoP credential is invalid_token under the DPoP scheme', async () => {
    const h = await harness()
    await expectRefused(
      h,
      { authorization: 'DPoP a b', dpop: 'x.y.z' },
      {
        code: 'PCL_TOKEN_INVALID',
        challenge: DPOP_INVALID_TOKEN,
      },
    )
  })
})

describe('binding and scheme', () => {
  it('a DPoP-bound token presented as Bearer is refused: Bearer invalid_token, DPoP offered', async () => {
    const { h, token } = await setup()
    await expectRefused(
      h,
      { authorization: `Bearer ${token}` },
      {
        code: 'PCL_TOKEN_BINDING_MISMATCH',
        challenge: new RegExp(
          `^Bearer realm="videos", error="invalid_token", error_description="[^"]+", DPoP realm="videos", ${ALGS}$`,
        ),
      },
    )
  })

  it('a DPoP-bound token presented as Bearer with a valid proof beside it is still refused', async () => {
    const { h, token } = await setup()
    await expectRefused(
      h,
      { authorization: `Bearer ${token}`, dpop: await proof(key, { token }) },
      {
        code: 'PCL_TOKEN_BINDING_MISMATCH',
        challenge: /^Bearer realm="videos", error="invalid_token"/,
      },
    )
  })

  it('an unbound token presented with the DPoP scheme is refused', async () => {
    const h = await harness()
    const token = await issuer.token()
    await expectRefused(h, await signed(token), {
      code: 'PCL_TOKEN_BINDING_MISMATCH',
      challenge: DPOP_INVALID_TOKEN,
    })
  })

  it('a token bound by a method Portcullis does not verify (cnf.jwk) is refused', async () => {
    const h = await harness()
    const token = await issuer.token({ cnf: { jwk: key.jwk } })
    await expectRefused(
      h,
      { authorization: `Bearer ${token}` },
      {
        code: 'PCL_TOKEN_BINDING_MISMATCH',
        challenge: /^Bearer realm="videos", error="invalid_token"/,
      },
    )
  })

  it('a route with guard.dpop refuses a bearer token before verifying it', async () => {
    const h = await harness()
    const token = await issuer.token()
    await expectRefused(
      h,
      { authorization: `Bearer ${token}` },
      {
        code: 'PCL_DPOP_REQUIRED',
        challenge: DPOP_INVALID_TOKEN,
      },
      { url: '/v1/dpop-only' },
    )
    // With a DPoP-bound token and a proof for that URL it is served.
    const bound = await boundToken()
    const htu = `http://${HOST}/v1/dpop-only`
    const ok = await call(h, dpopHeaders(bound, await proof(key, { token: bound, htu })), {
      url: '/v1/dpop-only',
    })
    expect(ok.statusCode).toBe(200)
  })

  it('a route with guard.dpop answers a request without a token with a DPoP challenge', async () => {
    const h = await harness()
    await expectRefused(
      h,
      {},
      {
        code: 'PCL_TOKEN_MISSING',
        challenge: new RegExp(`^DPoP realm="videos", ${ALGS}$`),
      },
      { url: '/v1/dpop-only' },
    )
  })

  it("an issuer with dpop: 'required' refuses its bearer tokens", async () => {
    const h = await harness({}, { dpop: 'required' })
    const token = await issuer.token()
    await expectRefused(
      h,
      { authorization: `Bearer ${token}` },
      {
        code: 'PCL_DPOP_REQUIRED',
        challenge: DPOP_INVALID_TOKEN,
      },
    )
  })

  it('a missing scope on a DPoP request is challenged under the DPoP scheme', async () => {
    const { h, token } = await setup()
    const htu = `http://${HOST}/v1/admin`
    await expectRefused(
      h,
      await signed(token, { htu }),
      {
        status: 403,
        code: 'PCL_INSUFFICIENT_SCOPE',
        challenge: new RegExp(
          `^DPoP realm="videos", error="insufficient_scope", error_description="[^"]+", scope="videos:admin", ${ALGS}$`,
        ),
      },
      { url: '/v1/admin' },
    )
  })

  it('an expired DPoP-bound token is invalid_token under the DPoP scheme', async () => {
    const h = await harness()
    const token = await boundToken({ iat: now() - 600, exp: now() - 300 })
    await expectRefused(h, await signed(token), {
      code: 'PCL_TOKEN_EXPIRED',
      challenge: DPOP_INVALID_TOKEN,
    })
  })
})

describe('server nonces (RFC 9449 §9)', () => {
  const secret = 'a shared nonce secret of at least 32 bytes'

  it('a proof without a nonce gets use_dpop_nonce and a nonce; the retry with it is served', async () => {
    const { h, token } = await setup({ nonce: { secret } })
    const first = await expectRefused(h, await signed(token), {
      code: 'PCL_DPOP_NONCE_REQUIRED',
      challenge: new RegExp(
        `^DPoP realm="videos", error="use_dpop_nonce", error_description="[^"]+", ${ALGS}$`,
      ),
    })
    const nonce = first.headers['dpop-nonce']
    expect(nonce).toMatch(/^[\x21\x23-\x5b\x5d-\x7e]+$/)
    const retry = await call(h, await signed(token, { nonce: String(nonce) }))
    expect(retry.statusCode).toBe(200)
    // Another instance sharing the secret accepts it too.
    const other = await harness({ nonce: { secret } })
    const elsewhere = await call(other, await signed(token, { nonce: String(nonce) }))
    expect(elsewhere.statusCode).toBe(200)
  })

  it('a forged, foreign or expired nonce gets use_dpop_nonce again', async () => {
    const { h, token } = await setup({ nonce: { secret, lifetime: 10 } })
    const foreign = await harness({ nonce: { secret: 'another secret of at least 32 bytes!!' } })
    const first = await call(foreign, await signed(token))
    const foreignNonce = String(first.headers['dpop-nonce'])
    const old = `${now() - 60}.${'A'.repeat(22)}`
    for (const nonce of [foreignNonce, old, 'forged', `${now()}.${'A'.repeat(22)}`]) {
      const res = await expectRefused(h, await signed(token, { nonce }), {
        code: 'PCL_DPOP_NONCE_REQUIRED',
        challenge: /^DPoP realm="videos", error="use_dpop_nonce"/,
      })
      expect(res.headers['dpop-nonce']).not.toBe(nonce)
    }
  })
})

describe('options', () => {
  it.each([
    [{ algorithms: ['HS256'] }, 'tokens.dpop.algorithms[0]'],
    [{ algorithms: ['none'] }, 'tokens.dpop.algorithms[0]'],
    [{ algorithms: [] }, 'tokens.dpop.algorithms'],
    [{ maxAge: 0 }, 'tokens.dpop.maxAge'],
    [{ maxProofBytes: 100 }, 'tokens.dpop.maxProofBytes'],
    [{ replay: { max: 10 } }, 'tokens.dpop.replay'],
    [{ replay: { redis: 'redis://127.0.0.1' } }, 'tokens.dpop.replay'],
    [{ nonce: { secret: 'short' } }, 'tokens.dpop.nonce.secret'],
    [{ nonce: { lifetime: 5 } }, 'tokens.dpop.nonce.lifetime'],
    [{ origin: 'https://api.test/path' }, 'tokens.dpop.origin'],
    [{ origin: 'ftp://api.test' }, 'tokens.dpop.origin'],
    [{ extra: true }, 'tokens.dpop.extra'],
  ])('%j is refused naming %s', async (dpop, field) => {
    const app = Fastify({ logger: false })
    open.push(app)
    await expect(
      registerPortcullis(app, issuer, { tokens: { dpop: dpop as never } }),
    ).rejects.toMatchObject({ code: 'PCL_INVALID_OPTIONS', field: expect.stringContaining(field) })
  })

  it('guard.dpop must be true', async () => {
    const app = Fastify({ logger: false })
    open.push(app)
    await registerPortcullis(app, issuer)
    app.get('/x', { config: { guard: { authenticated: true, dpop: false as never } } }, () => 'x')
    await expect(app.ready()).rejects.toMatchObject({ code: 'PCL_INVALID_GUARD' })
  })
})

/** Two instances on `one` and `two`: a proof used on the first is refused on the second. */
async function replayedAcross(one: TokensRedisClient, two: TokensRedisClient) {
  const a = await harness({ replay: { redis: one } })
  const b = await harness({ replay: { redis: two } })
  const token = await boundToken()
  const once = await proof(key, { token })
  expect((await call(a, dpopHeaders(token, once))).statusCode).toBe(200)
  await expectRefused(b, dpopHeaders(token, once), {
    code: 'PCL_DPOP_PROOF_REPLAYED',
    challenge: INVALID_PROOF,
  })
  return { a, b, token }
}

describe.runIf(runRedisTests)('replay across instances sharing Redis', () => {
  const { server, client } = useRedisServer()

  it('a proof used on one instance is refused on the other', async () => {
    await replayedAcross(await client(), await client())
    // The key holds no raw jti and expires with the proof window.
    const inspector = await client()
    const keys = await inspector.keys('portcullis:dpop:*')
    expect(keys).toHaveLength(1)
    const ttl = await inspector.pttl(keys[0] ?? '')
    expect(ttl).toBeGreaterThan(0)
    // maxAge + clockTolerance, to the end of the last second the claim check accepts.
    expect(ttl).toBeLessThanOrEqual((60 + 5 + 1) * 1000)
  })

  it('Redis down: DPoP requests fail closed with 503, bearer requests are unaffected', async () => {
    const c = await client()
    const h = await harness({ replay: { redis: c, timeout: 200 } })
    await server().stop()
    try {
      const token = await boundToken()
      const before = h.runs()
      const res = await call(h, await signed(token))
      expect(res.statusCode).toBe(503)
      expect(res.json()).toMatchObject({ code: 'PCL_DPOP_UNAVAILABLE' })
      expect(res.headers['www-authenticate']).toBeUndefined()
      expect(h.runs()).toBe(before)
      const plain = await call(h, { authorization: `Bearer ${await issuer.token()}` })
      expect(plain.statusCode).toBe(200)
    } finally {
      await server().restart()
    }
  })
})

// The same replay cache on a Redis Cluster of three masters: one SET NX per proof, on one key.
describe.runIf(runClusterTests)('replay across instances sharing a Redis Cluster', () => {
  const current = useRedisCluster()

  it('a proof used on one instance is refused on the other', async () => {
    const { a, b, token } = await replayedAcross(await current().client(), await current().client())
    for (let i = 0; i < 6; i++) {
      expect((await call(i % 2 === 0 ? a : b, await signed(token))).statusCode).toBe(200)
    }
    expect(await current().keys()).toHaveLength(7)
    expect((await current().keysPerMaster()).filter((count) => count > 0).length).toBeGreaterThan(1)
  })
})
