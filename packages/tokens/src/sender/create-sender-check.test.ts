import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isPortcullisError, type Principal } from '@portcullis/core'
import { createDpopKey, signDpopProof, type DpopKey } from '@portcullis/testing'
import { beforeAll, describe, expect, it } from 'vitest'
import type { AuthRequest, Credentials } from '../authenticate/authenticator.js'
import { resolveDpop } from '../options/resolve-tokens-options.js'
import { certificateThumbprint } from './certificate-thumbprint.js'
import { createSenderCheck } from './create-sender-check.js'

// The sender check framework-free: what the token's cnf binds it to, against the credentials'
// scheme, the connection's certificate and the DPoP proof. The adapter suites (test/fastify,
// test/express dpop and mtls) run the same checks over real requests.

const ISSUER = 'https://auth.test'
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl'
const CERT = Buffer.from('the DER bytes of a client certificate')
const X5T = createHash('sha256').update(CERT).digest('base64url')

let key: DpopKey

beforeAll(async () => {
  key = await createDpopKey()
})

function principal(claims: Record<string, unknown>, issuer = ISSUER): Principal {
  return { subject: 'user-1', issuer, clientId: null, scopes: new Set(), claims }
}

function request(
  overrides: Partial<AuthRequest> = {},
  socket: object | null = { encrypted: false },
): AuthRequest {
  const message = { method: 'GET', headers: { host: 'api.test' }, socket }
  return {
    message: message as unknown as IncomingMessage,
    url: '/v1/videos/1',
    queryTokenAllowed: () => false,
    ...overrides,
  }
}

/** A TLS socket that presented `raw` as its client certificate (`undefined`: none). */
const tls = (raw: Buffer | undefined) => ({
  encrypted: true,
  getPeerX509Certificate: () => (raw === undefined ? undefined : { raw }),
})

const bearer: Credentials = { scheme: 'Bearer', token: TOKEN }

function sender(issuers: [string, 'required' | 'allowed'][] = []) {
  return createSenderCheck(resolveDpop({}, 5), new Map(issuers))
}

async function refusal(run: () => unknown) {
  try {
    await run()
  } catch (err) {
    if (!isPortcullisError(err)) throw err
    return { code: err.code, message: err.message, detail: err.detail, dpop: err.dpop }
  }
  throw new Error('expected a refusal')
}

describe('createSenderCheck: the cnf claim', () => {
  it.each([
    ['null', null],
    ['a string', 'x5t'],
    ['an array', [{ jkt: 'a' }]],
    ['a numeric jkt', { jkt: 42 }],
    ['an empty jkt', { jkt: '' }],
    ['an empty x5t#S256', { 'x5t#S256': '' }],
    ['a numeric x5t#S256', { 'x5t#S256': 7 }],
  ])('cnf as %s is an invalid token', async (_what, cnf) => {
    expect(await refusal(() => sender().check(principal({ cnf }), bearer, request()))).toEqual({
      code: 'PCL_TOKEN_INVALID',
      message: 'Token claim has the wrong type: cnf',
      detail: undefined,
      dpop: undefined,
    })
  })

  it('a token bound by a method it does not verify (cnf.jwk) is refused, never taken as bearer', async () => {
    const cnf = { jwk: key.jwk }
    expect(await refusal(() => sender().check(principal({ cnf }), bearer, request()))).toEqual({
      code: 'PCL_TOKEN_BINDING_MISMATCH',
      message: expect.stringMatching(/no confirmation method/),
      detail: 'This access token is bound to a key in a way this service does not support.',
      dpop: undefined,
    })
  })

  it('an unbound token passes as a bearer token', () => {
    const p = principal({})
    expect(sender().check(p, bearer, request())).toBe(p)
  })
})

describe('createSenderCheck: bearer tokens', () => {
  it('a DPoP-bound token presented as Bearer is refused, offering DPoP', async () => {
    const cnf = { jkt: key.jkt }
    expect(await refusal(() => sender().check(principal({ cnf }), bearer, request()))).toEqual({
      code: 'PCL_TOKEN_BINDING_MISMATCH',
      message: expect.stringMatching(/presented as a Bearer token/),
      detail: 'This access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof.',
      dpop: { algs: resolveDpop({}, 5).algorithms, only: false },
    })
  })

  it("a bearer token of an issuer with dpop: 'required' is refused, asking for DPoP only", async () => {
    const check = sender([[ISSUER, 'required']])
    const refused = await refusal(() => check.check(principal({}), bearer, request()))
    expect(refused).toMatchObject({
      code: 'PCL_DPOP_REQUIRED',
      message: expect.stringMatching(/DPoP-bound token is required/),
      detail: 'Send a DPoP-bound access token with the DPoP scheme and a DPoP proof.',
      dpop: { only: true },
    })
    // Another issuer's bearer tokens pass.
    const other = principal({}, 'https://other.test')
    expect(check.check(other, bearer, request())).toBe(other)
  })

  it('dpopOnly asks the route, and is false for a route that does not say', () => {
    expect(sender().dpopOnly(request())).toBe(false)
    expect(sender().dpopOnly(request({ dpopRequired: () => true }))).toBe(true)
    expect(sender().dpopOnly(request({ dpopRequired: () => false }))).toBe(false)
  })
})

describe('createSenderCheck: certificate-bound tokens (RFC 8705)', () => {
  const bound = principal({ cnf: { 'x5t#S256': X5T } })
  const detail =
    'This access token is bound to a client certificate this connection did not present.'

  it('pass over a TLS connection presenting the bound certificate', () => {
    expect(sender().check(bound, bearer, request({}, tls(CERT)))).toBe(bound)
  })

  it.each([
    ['plain HTTP', { encrypted: false }, /without a client certificate/],
    ['a detached socket', null, /without a client certificate/],
    ['TLS without a client certificate', tls(undefined), /without a client certificate/],
    ['another certificate', tls(Buffer.from('another')), /with another client certificate/],
  ])('are refused over %s', async (_what, socket, message) => {
    expect(await refusal(() => sender().check(bound, bearer, request({}, socket)))).toEqual({
      code: 'PCL_TOKEN_BINDING_MISMATCH',
      message: expect.stringMatching(message),
      detail,
      dpop: undefined,
    })
  })
})

describe('certificateThumbprint', () => {
  const of = (socket: object | null) =>
    certificateThumbprint({ socket } as unknown as IncomingMessage)

  it('is the base64url SHA-256 of the certificate on a TLS connection', () => {
    expect(of(tls(CERT))).toBe(X5T)
  })

  it('is null without TLS, whatever the socket offers, and without a certificate API', () => {
    expect(of(null)).toBeNull()
    expect(of({ encrypted: false, getPeerX509Certificate: () => ({ raw: CERT }) })).toBeNull()
    expect(of({ encrypted: true })).toBeNull()
    expect(of(tls(undefined))).toBeNull()
  })
})

describe('createSenderCheck: the DPoP scheme', () => {
  const dpop = async (htu = 'http://api.test/v1/videos/1'): Promise<Credentials> => ({
    scheme: 'DPoP',
    token: TOKEN,
    proof: await signDpopProof(key, { htu, token: TOKEN }),
  })

  it('an unbound token with the DPoP scheme is refused before its proof is read', async () => {
    const credentials = await dpop()
    expect(
      await refusal(() => sender().check(principal({}), credentials, request())),
    ).toMatchObject({
      code: 'PCL_TOKEN_BINDING_MISMATCH',
      message: expect.stringMatching(/not DPoP-bound \(no cnf\.jkt\)/),
      detail: 'This access token is not DPoP-bound: send it with the Bearer scheme.',
    })
  })

  it('checks htu against the origin the adapter names, normalised, over the Host header', async () => {
    const p = principal({ cnf: { jkt: key.jkt } })
    const behind = request({ origin: 'HTTPS://API.example:443' }, { encrypted: false })
    await expect(
      sender().check(p, await dpop('https://api.example/v1/videos/1'), behind),
    ).resolves.toBe(p)
    // The Host header (api.test over plain HTTP) is not what the client addressed.
    const viaHost = await dpop('http://api.test/v1/videos/1')
    expect(await refusal(() => sender().check(p, viaHost, behind))).toMatchObject({
      code: 'PCL_DPOP_PROOF_INVALID',
    })
  })

  it('an origin that is no URL matches no htu', async () => {
    const p = principal({ cnf: { jkt: key.jkt } })
    const credentials = await dpop()
    expect(
      await refusal(() => sender().check(p, credentials, request({ origin: 'not a url' }))),
    ).toMatchObject({ code: 'PCL_DPOP_PROOF_INVALID', message: expect.stringMatching(/htu/) })
  })

  it('without an adapter origin, the Host header of the connection', async () => {
    const p = principal({ cnf: { jkt: key.jkt } })
    await expect(sender().check(p, await dpop(), request())).resolves.toBe(p)
  })
})
