import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import {
  isPortcullisConfigError,
  isPortcullisError,
  renderProblem,
  type Principal,
} from '@portcullis/core'
import {
  buildPayload,
  createDpopKey,
  createTestKey,
  signDpopProof,
  signToken,
  type DpopKey,
  type TestKey,
} from '@portcullis/testing'
import { beforeAll, describe, expect, it } from 'vitest'
import type { TokensOptions } from '../options/index.js'
import { createVerifier, type Verifier } from '../verifier/index.js'
import { createAuthenticator, type AuthRequest } from './authenticator.js'

// The framework-free authenticator as an adapter (Fastify, Express) drives it: credentials() then
// verify(), with Node's IncomingMessage. Sender constraints live here, so every adapter gets them.

const ISSUER = 'https://auth.test'
let tokenKey: TestKey
let proofKey: DpopKey

beforeAll(async () => {
  tokenKey = await createTestKey({ kid: 'k1' })
  proofKey = await createDpopKey()
})

function options(extra: Partial<TokensOptions> = {}, dpop?: 'required'): TokensOptions {
  return {
    issuers: [
      {
        issuer: ISSUER,
        audience: 'api',
        algorithms: ['ES256'],
        jwks: { keys: [tokenKey.jwk] },
        ...(dpop === undefined ? {} : { dpop }),
      },
    ],
    ...extra,
  }
}

const token = (extra: Record<string, unknown> = {}): Promise<string> =>
  signToken(tokenKey, buildPayload({ issuer: ISSUER, audience: 'api' }, extra))

interface FakeRequest {
  headers?: Record<string, string | string[]>
  url?: string
  method?: string
  socket?: unknown
  dpopRequired?: boolean
  origin?: string
}

function request(fake: FakeRequest): AuthRequest {
  const headers: Record<string, string> = {}
  const rawHeaders: string[] = []
  for (const [name, value] of Object.entries(fake.headers ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) rawHeaders.push(name, one)
    // Node keeps the first Authorization header, and joins other duplicates with ", ".
    const values = Array.isArray(value) ? value : [value]
    headers[name] = name === 'authorization' ? (values[0] ?? '') : values.join(', ')
  }
  const message = {
    method: fake.method ?? 'GET',
    url: fake.url ?? '/v1/videos/1',
    headers: { host: 'api.test', ...headers },
    rawHeaders: ['Host', 'api.test', ...rawHeaders],
    socket: fake.socket ?? { encrypted: false },
  } as unknown as IncomingMessage
  return {
    message,
    url: fake.url ?? '/v1/videos/1',
    queryTokenAllowed: () => false,
    ...(fake.dpopRequired === undefined ? {} : { dpopRequired: () => fake.dpopRequired === true }),
    ...(fake.origin === undefined ? {} : { origin: fake.origin }),
  }
}

async function authenticate(verifier: Verifier, fake: FakeRequest): Promise<Principal> {
  const authenticator = createAuthenticator(verifier)
  const view = request(fake)
  const credentials = authenticator.credentials(view)
  if (credentials === null) throw new Error('no credentials')
  return authenticator.verify(credentials, view)
}

async function refusal(work: () => Promise<unknown>): Promise<{ code: string; challenge: string }> {
  try {
    await work()
  } catch (err) {
    if (!isPortcullisError(err)) throw err
    const rendered = renderProblem(err, { realm: 'api' })
    return { code: err.code, challenge: rendered.headers['www-authenticate'] ?? '' }
  }
  throw new Error('expected a refusal')
}

const dpop = async (bound: string, htu = 'http://api.test/v1/videos/1'): Promise<FakeRequest> => ({
  headers: {
    authorization: `DPoP ${bound}`,
    dpop: await signDpopProof(proofKey, { htu, token: bound }),
  },
})

describe('createAuthenticator: DPoP', () => {
  it('reads DPoP credentials and their proof, and verifies both', async () => {
    const verifier = createVerifier(options())
    const bound = await token({ cnf: { jkt: proofKey.jkt } })
    const authenticator = createAuthenticator(verifier)
    const view = request(await dpop(bound))
    const credentials = authenticator.credentials(view)
    expect(credentials).toMatchObject({ scheme: 'DPoP', token: bound, proof: expect.any(String) })
    const principal = await authenticator.verify(credentials!, view)
    expect(principal.subject).toBe('user-1')
  })

  it('answers refusals of DPoP requests with a DPoP challenge, whatever the adapter', async () => {
    const verifier = createVerifier(options())
    const bound = await token({ cnf: { jkt: proofKey.jkt } })
    expect(
      await refusal(() => authenticate(verifier, { headers: { authorization: `DPoP ${bound}` } })),
    ).toEqual({
      code: 'PCL_DPOP_PROOF_INVALID',
      challenge: expect.stringMatching(
        /^DPoP realm="api", error="invalid_dpop_proof", .*algs="ES256 /,
      ),
    })
    const expired = await token({ cnf: { jkt: proofKey.jkt }, exp: 1 })
    expect(await refusal(async () => authenticate(verifier, await dpop(expired)))).toEqual({
      code: 'PCL_TOKEN_EXPIRED',
      challenge: expect.stringMatching(/^DPoP realm="api", error="invalid_token", /),
    })
  })

  it('refuses a DPoP-bound token sent as Bearer, offering DPoP beside Bearer', async () => {
    const verifier = createVerifier(options())
    const bound = await token({ cnf: { jkt: proofKey.jkt } })
    expect(
      await refusal(() =>
        authenticate(verifier, { headers: { authorization: `Bearer ${bound}` } }),
      ),
    ).toEqual({
      code: 'PCL_TOKEN_BINDING_MISMATCH',
      challenge: expect.stringMatching(
        /^Bearer realm="api", error="invalid_token", error_description="[^"]+", DPoP realm="api", algs="ES256 /,
      ),
    })
  })

  it('refuses a verifier without its sender-constraint settings, instead of assuming defaults', () => {
    const inner = createVerifier(options())
    const foreign = {
      verify: (t: string) => inner.verify(t),
      realm: undefined,
      maxTokenBytes: 8192,
    }
    let caught: unknown
    try {
      createAuthenticator(foreign as unknown as Verifier)
    } catch (err) {
      caught = err
    }
    expect(isPortcullisConfigError(caught)).toBe(true)
    expect((caught as Error).message).toMatch(/made by createVerifier/)
  })

  it('a wrapping verifier that carries the settings enforces bindings as the original', async () => {
    const inner = createVerifier(options())
    const wrapped: Verifier = {
      verify: (t) => inner.verify(t),
      realm: undefined,
      maxTokenBytes: 8192,
      senderConstraints: inner.senderConstraints,
    }
    const bound = await token({ cnf: { jkt: proofKey.jkt } })
    expect(
      await refusal(() => authenticate(wrapped, { headers: { authorization: `Bearer ${bound}` } })),
    ).toMatchObject({ code: 'PCL_TOKEN_BINDING_MISMATCH' })
    await expect(authenticate(wrapped, await dpop(bound))).resolves.toMatchObject({
      subject: 'user-1',
    })
  })

  it('a route requiring DPoP refuses a bearer token in credentials(), before any verification', async () => {
    const authenticator = createAuthenticator(createVerifier(options()))
    const view = request({
      headers: { authorization: 'Bearer not-even-a-jwt' },
      dpopRequired: true,
    })
    let code: string | undefined
    try {
      authenticator.credentials(view)
    } catch (err) {
      code = isPortcullisError(err) ? err.code : undefined
    }
    expect(code).toBe('PCL_DPOP_REQUIRED')
    expect(authenticator.dpopChallenge(request({ dpopRequired: true }), null)).toEqual({
      algs: expect.arrayContaining(['ES256']),
      only: true,
    })
    expect(authenticator.dpopChallenge(request({}), null)).toBeUndefined()
  })

  it("an issuer with dpop: 'required' refuses its unbound bearer tokens", async () => {
    const verifier = createVerifier(options({}, 'required'))
    const plain = await token()
    expect(
      await refusal(() =>
        authenticate(verifier, { headers: { authorization: `Bearer ${plain}` } }),
      ),
    ).toMatchObject({ code: 'PCL_DPOP_REQUIRED', challenge: expect.stringMatching(/^DPoP /) })
  })

  it('checks htu against the origin an adapter passes, unless dpop.origin is configured', async () => {
    const bound = await token({ cnf: { jkt: proofKey.jkt } })
    const behindProxy = {
      ...(await dpop(bound, 'https://public.test/v1/videos/1')),
      origin: 'https://public.test',
    }
    await expect(authenticate(createVerifier(options()), behindProxy)).resolves.toBeDefined()
    const pinned = createVerifier(options({ dpop: { origin: 'https://pinned.test' } }))
    expect(
      await refusal(async () =>
        authenticate(pinned, {
          ...(await dpop(bound, 'https://public.test/v1/videos/1')),
          origin: 'https://public.test',
        }),
      ),
    ).toMatchObject({ code: 'PCL_DPOP_PROOF_INVALID' })
    await expect(
      authenticate(pinned, await dpop(bound, 'https://pinned.test/v1/videos/1')),
    ).resolves.toBeDefined()
  })

  it('refuses two DPoP headers and a malformed DPoP credential', async () => {
    const verifier = createVerifier(options())
    const bound = await token({ cnf: { jkt: proofKey.jkt } })
    const proof = await signDpopProof(proofKey, {
      htu: 'http://api.test/v1/videos/1',
      token: bound,
    })
    expect(
      await refusal(() =>
        authenticate(verifier, {
          headers: { authorization: `DPoP ${bound}`, dpop: [proof, proof] },
        }),
      ),
    ).toMatchObject({ code: 'PCL_DPOP_PROOF_INVALID' })
    expect(
      await refusal(() => authenticate(verifier, { headers: { authorization: 'DPoP a b' } })),
    ).toEqual({
      code: 'PCL_TOKEN_INVALID',
      challenge: expect.stringMatching(/^DPoP realm="api", error="invalid_token"/),
    })
  })

  it('answers a garbled scheme with 400 invalid_request, under the scheme it garbled', async () => {
    const verifier = createVerifier(options())
    const garbled = async (authorization: string) =>
      refusal(() => authenticate(verifier, { headers: { authorization } }))
    expect(await garbled('DPoP:a.b.c')).toEqual({
      code: 'PCL_INVALID_REQUEST',
      challenge: expect.stringMatching(/^DPoP realm="api", error="invalid_request"/),
    })
    expect(await garbled('Bearer\ta.b.c')).toEqual({
      code: 'PCL_INVALID_REQUEST',
      challenge: expect.stringMatching(/^Bearer realm="api", error="invalid_request"/),
    })
  })
})

describe('createAuthenticator: certificate-bound tokens (RFC 8705)', () => {
  const der = Buffer.from('a client certificate, as DER')
  const x5t = createHash('sha256').update(der).digest('base64url')
  const tls = (raw: Buffer | undefined): unknown => ({
    encrypted: true,
    getPeerX509Certificate: () => (raw === undefined ? undefined : { raw }),
  })

  it('accepts the bound certificate and refuses another one, none, or no TLS', async () => {
    const verifier = createVerifier(options())
    const bound = await token({ cnf: { 'x5t#S256': x5t } })
    const headers = { authorization: `Bearer ${bound}` }
    await expect(authenticate(verifier, { headers, socket: tls(der) })).resolves.toBeDefined()
    for (const socket of [tls(Buffer.from('another')), tls(undefined), { encrypted: false }]) {
      expect(await refusal(() => authenticate(verifier, { headers, socket }))).toEqual({
        code: 'PCL_TOKEN_BINDING_MISMATCH',
        challenge: expect.stringMatching(/^Bearer realm="api", error="invalid_token"/),
      })
    }
  })

  it('refuses a malformed cnf, and a cnf naming no method it verifies', async () => {
    const verifier = createVerifier(options())
    const cases: [unknown, string][] = [
      ['a string', 'PCL_TOKEN_INVALID'],
      [{ jkt: 42 }, 'PCL_TOKEN_INVALID'],
      [{ 'x5t#S256': '' }, 'PCL_TOKEN_INVALID'],
      [{ kid: 'k' }, 'PCL_TOKEN_BINDING_MISMATCH'],
      [{}, 'PCL_TOKEN_BINDING_MISMATCH'],
    ]
    for (const [cnf, code] of cases) {
      const t = await token({ cnf })
      expect(
        await refusal(() => authenticate(verifier, { headers: { authorization: `Bearer ${t}` } })),
        JSON.stringify(cnf),
      ).toMatchObject({ code })
    }
  })
})
