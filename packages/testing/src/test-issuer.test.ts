import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  exportSPKI,
  importJWK,
  jwtVerify,
  type CryptoKey,
} from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import {
  bearer,
  createTestIssuer,
  JWKS_PATH,
  type TestAlgorithm,
  type TestIssuer,
} from './index.js'

const issuers: TestIssuer[] = []

async function make(...args: Parameters<typeof createTestIssuer>): Promise<TestIssuer> {
  const issuer = await createTestIssuer(...args)
  issuers.push(issuer)
  return issuer
}

afterEach(async () => {
  await Promise.all(issuers.splice(0).map((issuer) => issuer.close()))
})

function verifyLocal(issuer: TestIssuer, token: string, options: Record<string, unknown> = {}) {
  return jwtVerify(token, createLocalJWKSet(issuer.jwks), {
    issuer: issuer.issuer,
    audience: issuer.audience,
    algorithms: [issuer.algorithm],
    typ: 'at+jwt',
    ...options,
  })
}

describe('createTestIssuer', () => {
  it('mints an at+jwt ES256 token with the defaults that verifies against its JWKS', async () => {
    const issuer = await make()
    expect(issuer.algorithm).toBe('ES256')
    expect(issuer.issuer).toBe('https://issuer.test')
    expect(issuer.audience).toBe('test-api')

    const before = Math.floor(Date.now() / 1000)
    const { payload, protectedHeader } = await verifyLocal(issuer, await issuer.token())
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: issuer.kid })
    expect(payload).toMatchObject({ iss: 'https://issuer.test', aud: 'test-api', sub: 'user-1' })
    expect(payload.iat).toBeGreaterThanOrEqual(before)
    expect(payload.exp).toBe(payload.iat! + 300)
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/)
  })

  it.each<TestAlgorithm>(['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'])(
    'signs with %s and publishes a public JWK with kid, alg and use',
    async (algorithm) => {
      const issuer = await make({ algorithm })
      const { keys } = issuer.jwks
      expect(keys).toHaveLength(1)
      expect(keys[0]).toMatchObject({ kid: issuer.kid, alg: algorithm, use: 'sig' })
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'])
        expect(keys[0]).not.toHaveProperty(secret)

      const token = await issuer.token()
      expect(decodeProtectedHeader(token).alg).toBe(algorithm)
      await expect(verifyLocal(issuer, token)).resolves.toBeDefined()
      const [publicKey] = issuer.publicKeys
      expect((publicKey as CryptoKey).type).toBe('public')
      await expect(jwtVerify(token, publicKey!)).resolves.toBeDefined()
    },
  )

  it('HS256 signs with a random 32-byte secret, unpublished by default', async () => {
    const issuer = await make({ algorithm: 'HS256' })
    expect(issuer.jwks).toEqual({ keys: [] })
    const [secret] = issuer.publicKeys
    expect(secret).toBeInstanceOf(Uint8Array)
    expect((secret as Uint8Array).byteLength).toBe(32)
    const { protectedHeader } = await jwtVerify(await issuer.token(), secret!, {
      algorithms: ['HS256'],
    })
    expect(protectedHeader).toMatchObject({ alg: 'HS256', kid: issuer.kid })
    await expect(issuer.bad.hs256WithPublicKey()).rejects.toThrow(TypeError)
  })

  it('HS256 with exposeSecret publishes the secret as an oct JWK', async () => {
    const issuer = await make({ algorithm: 'HS256', exposeSecret: true })
    const [jwk] = issuer.jwks.keys
    expect(jwk).toMatchObject({ kty: 'oct', kid: issuer.kid, alg: 'HS256', use: 'sig' })
    const key = await importJWK(jwk!)
    await expect(jwtVerify(await issuer.token(), key)).resolves.toBeDefined()
  })

  it('takes issuer, audience and kid options and validates them', async () => {
    const issuer = await make({
      issuer: 'https://auth.internal',
      audience: 'videos-api',
      kid: 'k1',
    })
    expect(issuer.kid).toBe('k1')
    expect(issuer.jwks.keys[0]?.kid).toBe('k1')
    const { payload } = await verifyLocal(issuer, await issuer.token())
    expect(payload).toMatchObject({ iss: 'https://auth.internal', aud: 'videos-api' })

    await expect(createTestIssuer({ algorithm: 'HS512' as TestAlgorithm })).rejects.toThrow(
      TypeError,
    )
    await expect(createTestIssuer({ issuer: '' })).rejects.toThrow(TypeError)
    await expect(createTestIssuer({ kid: '' })).rejects.toThrow(TypeError)
  })

  it('returns a fresh JWKS copy on each access', async () => {
    const issuer = await make()
    const jwks = issuer.jwks
    jwks.keys[0]!.kid = 'tampered'
    jwks.keys.push({ kty: 'oct' })
    expect(issuer.jwks.keys).toHaveLength(1)
    expect(issuer.jwks.keys[0]?.kid).toBe(issuer.kid)
    expect(issuer.jwks).not.toBe(issuer.jwks)
  })
})

describe('token()', () => {
  it('puts scope, client_id, lifetime and any other claim into the payload', async () => {
    const issuer = await make()
    const token = await issuer.token({
      sub: 'svc-1',
      scope: ['videos:read', 'videos:write'],
      client_id: 'search-svc',
      expiresIn: '1h',
      tenant_id: 't-9',
      roles: ['admin'],
    })
    const { payload } = await verifyLocal(issuer, token)
    expect(payload).toMatchObject({
      sub: 'svc-1',
      scope: 'videos:read videos:write',
      client_id: 'search-svc',
      tenant_id: 't-9',
      roles: ['admin'],
    })
    expect(payload.exp).toBe(payload.iat! + 3600)
    expect(payload).not.toHaveProperty('expiresIn')

    expect(decodeJwt(await issuer.token({ scope: 'a b', expiresIn: 60 }))).toMatchObject({
      scope: 'a b',
    })
    const short = decodeJwt(await issuer.token({ expiresIn: 60 }))
    expect(short.exp).toBe(short.iat! + 60)
  })

  it('lets iss, aud, iat, nbf, exp, jti be overridden; undefined leaves a claim out', async () => {
    const issuer = await make()
    const claims = decodeJwt(
      await issuer.token({
        aud: ['a', 'b'],
        iss: 'https://other.test',
        iat: 1000,
        nbf: 1000,
        exp: 2000,
        jti: 'j-1',
      }),
    )
    expect(claims).toMatchObject({
      aud: ['a', 'b'],
      iss: 'https://other.test',
      iat: 1000,
      nbf: 1000,
      exp: 2000,
      jti: 'j-1',
    })
    const bare = decodeJwt(await issuer.token({ sub: undefined, jti: undefined, exp: undefined }))
    expect(bare).not.toHaveProperty('sub')
    expect(bare).not.toHaveProperty('jti')
    expect(bare).not.toHaveProperty('exp')
    expect(decodeJwt(await issuer.token({ expiresIn: undefined }))).not.toHaveProperty('exp')
    await expect(issuer.token({ expiresIn: 'soon' })).rejects.toThrow(TypeError)
  })

  it('adds header extras to the protected header and lets them override typ', async () => {
    const issuer = await make()
    const withJku = await issuer.token({}, { jku: 'https://evil.test/jwks.json' })
    expect(decodeProtectedHeader(withJku)).toMatchObject({
      jku: 'https://evil.test/jwks.json',
      kid: issuer.kid,
    })

    const withCrit = await issuer.token({}, { crit: ['x'], x: 1 })
    expect(decodeProtectedHeader(withCrit)).toMatchObject({ crit: ['x'], x: 1 })
    await expect(verifyLocal(issuer, withCrit)).rejects.toThrow(errors.JOSENotSupported)
    await expect(verifyLocal(issuer, withCrit, { crit: { x: true } })).resolves.toBeDefined()

    const jwt = await issuer.token({}, { typ: 'JWT' })
    expect(decodeProtectedHeader(jwt).typ).toBe('JWT')
    await expect(verifyLocal(issuer, jwt)).rejects.toThrow(errors.JWTClaimValidationFailed)
    expect(decodeProtectedHeader(await issuer.token({}, { typ: undefined }))).not.toHaveProperty(
      'typ',
    )
  })
})

describe('bad tokens', () => {
  it('expired: exp one hour ago, rejected with JWTExpired', async () => {
    const issuer = await make()
    const token = await issuer.bad.expired({ sub: 'late' })
    const now = Math.floor(Date.now() / 1000)
    const { exp, sub } = decodeJwt(token)
    expect(sub).toBe('late')
    expect(Math.abs(exp! - (now - 3600))).toBeLessThanOrEqual(1)
    await expect(verifyLocal(issuer, token)).rejects.toThrow(errors.JWTExpired)
  })

  it('notYetValid: nbf one hour ahead, rejected on nbf', async () => {
    const issuer = await make()
    const token = await issuer.bad.notYetValid()
    const { nbf, exp } = decodeJwt(token)
    expect(nbf! - Math.floor(Date.now() / 1000)).toBeGreaterThanOrEqual(3599)
    expect(exp).toBeGreaterThan(nbf!)
    await expect(verifyLocal(issuer, token)).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'nbf',
    })
  })

  it('wrongAudience and wrongIssuer: rejected even when claims try to fix them', async () => {
    const issuer = await make()
    const aud = await issuer.bad.wrongAudience({ aud: issuer.audience })
    expect(decodeJwt(aud).aud).not.toBe(issuer.audience)
    await expect(verifyLocal(issuer, aud)).rejects.toMatchObject({ claim: 'aud' })

    const iss = await issuer.bad.wrongIssuer()
    expect(decodeJwt(iss).iss).not.toBe(issuer.issuer)
    await expect(verifyLocal(issuer, iss)).rejects.toMatchObject({ claim: 'iss' })
  })

  it.each<TestAlgorithm>(['ES256', 'RS256', 'EdDSA', 'HS256'])(
    'wrongKey (%s): same kid and alg, does not verify against the published key',
    async (algorithm) => {
      const issuer = await make({ algorithm })
      const token = await issuer.bad.wrongKey()
      expect(decodeProtectedHeader(token)).toEqual({
        alg: algorithm,
        typ: 'at+jwt',
        kid: issuer.kid,
      })
      await expect(jwtVerify(token, issuer.publicKeys[0]!)).rejects.toThrow(
        errors.JWSSignatureVerificationFailed,
      )
      if (algorithm !== 'HS256') {
        await expect(verifyLocal(issuer, token)).rejects.toThrow(
          errors.JWSSignatureVerificationFailed,
        )
      }
    },
  )

  it('algNone: three segments, empty signature, alg none header, rejected', async () => {
    const issuer = await make()
    const token = await issuer.bad.algNone({ scope: ['admin'] })
    const segments = token.split('.')
    expect(segments).toHaveLength(3)
    expect(segments[2]).toBe('')
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'none', typ: 'at+jwt' })
    expect(decodeJwt(token)).toMatchObject({ iss: issuer.issuer, scope: 'admin' })
    await expect(verifyLocal(issuer, token)).rejects.toThrow(errors.JOSEError)
    await expect(jwtVerify(token, issuer.publicKeys[0]!)).rejects.toThrow(errors.JOSEError)
  })

  it('hs256WithPublicKey: HS256 keyed with the SPKI PEM text and the current kid', async () => {
    const issuer = await make({ algorithm: 'RS256' })
    const token = await issuer.bad.hs256WithPublicKey()
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: issuer.kid })
    // A verifier confused into HMAC with the public key's PEM would accept it...
    const pem = await exportSPKI(issuer.publicKeys[0] as CryptoKey)
    await expect(jwtVerify(token, new TextEncoder().encode(pem))).resolves.toBeDefined()
    // ...a correct one does not.
    await expect(verifyLocal(issuer, token)).rejects.toThrow(errors.JOSEError)
    await expect(verifyLocal(issuer, token, { algorithms: undefined })).rejects.toThrow(
      errors.JOSENotSupported,
    )
  })
})

describe('rotation', () => {
  it('rotate() signs with a new kid and removes the old key from the JWKS', async () => {
    const issuer = await make()
    const oldKid = issuer.kid
    const oldToken = await issuer.token()
    await issuer.rotate()

    expect(issuer.kid).not.toBe(oldKid)
    expect(issuer.jwks.keys.map((key) => key.kid)).toEqual([issuer.kid])
    expect(issuer.publicKeys).toHaveLength(1)
    const newToken = await issuer.token()
    expect(decodeProtectedHeader(newToken).kid).toBe(issuer.kid)
    await expect(verifyLocal(issuer, newToken)).resolves.toBeDefined()
    await expect(verifyLocal(issuer, oldToken)).rejects.toThrow(errors.JWKSNoMatchingKey)
  })

  it('addKey() publishes a key ahead of use; rotate() then switches to it', async () => {
    const issuer = await make()
    const first = issuer.kid
    const next = await issuer.addKey()
    expect(next).not.toBe(first)
    expect(issuer.kid).toBe(first)
    expect(issuer.jwks.keys.map((key) => key.kid)).toEqual([first, next])
    expect(issuer.publicKeys).toHaveLength(2)

    const oldToken = await issuer.token()
    const cachedJwks = createLocalJWKSet(issuer.jwks)
    await issuer.rotate()
    expect(issuer.kid).toBe(next)
    expect(issuer.jwks.keys.map((key) => key.kid)).toEqual([next])
    // A verifier that fetched the JWKS before the switch already knows the new key.
    await expect(jwtVerify(await issuer.token(), cachedJwks)).resolves.toBeDefined()
    await expect(verifyLocal(issuer, oldToken)).rejects.toThrow(errors.JWKSNoMatchingKey)

    await issuer.rotate()
    expect(issuer.kid).not.toBe(next)
    expect(issuer.jwks.keys).toHaveLength(1)
  })

  it('bad tokens follow the current kid', async () => {
    const issuer = await make()
    await issuer.rotate()
    expect(decodeProtectedHeader(await issuer.bad.wrongKey()).kid).toBe(issuer.kid)
    expect(decodeProtectedHeader(await issuer.bad.expired()).kid).toBe(issuer.kid)
  })
})

describe('served JWKS', () => {
  it('listen() serves the JWKS on loopback, idempotently, and counts requests', async () => {
    const issuer = await make()
    const uri = await issuer.listen()
    expect(uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json$/)
    expect(new URL(uri).pathname).toBe(JWKS_PATH)
    expect(await issuer.listen()).toBe(uri)
    expect(issuer.jwksRequests).toBe(0)

    const response = await fetch(uri)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/json')
    expect(await response.json()).toEqual(issuer.jwks)
    expect(issuer.jwksRequests).toBe(1)

    const remote = createRemoteJWKSet(new URL(uri))
    await expect(jwtVerify(await issuer.token(), remote)).resolves.toBeDefined()
    await expect(jwtVerify(await issuer.token(), remote)).resolves.toBeDefined()
    expect(issuer.jwksRequests).toBe(2)

    expect((await fetch(new URL('/other', uri))).status).toBe(404)
    expect((await fetch(uri, { method: 'POST' })).status).toBe(405)
    expect(issuer.jwksRequests).toBe(2)
  })

  it('serves the keys published at request time', async () => {
    const issuer = await make()
    const uri = await issuer.listen()
    await issuer.rotate()
    const served = (await (await fetch(uri)).json()) as { keys: { kid: string }[] }
    expect(served.keys.map((key) => key.kid)).toEqual([issuer.kid])
  })

  it("'down' destroys the socket without answering", async () => {
    const issuer = await make()
    const uri = await issuer.listen()
    issuer.setJwksBehavior('down')
    await expect(fetch(uri)).rejects.toThrow()
    await expect(
      jwtVerify(await issuer.token(), createRemoteJWKSet(new URL(uri))),
    ).rejects.toThrow()
    expect(issuer.jwksRequests).toBe(2)

    issuer.setJwksBehavior('ok')
    expect((await fetch(uri)).status).toBe(200)
  })

  it('{ status } answers that status', async () => {
    const issuer = await make()
    const uri = await issuer.listen()
    issuer.setJwksBehavior({ status: 503 })
    const response = await fetch(uri)
    expect(response.status).toBe(503)
    expect(await response.text()).toBe('503 Service Unavailable')
    await expect(jwtVerify(await issuer.token(), createRemoteJWKSet(new URL(uri)))).rejects.toThrow(
      errors.JOSEError,
    )
  })

  it('{ delayMs } answers normally after the delay, so clients can time out', async () => {
    const issuer = await make()
    const uri = await issuer.listen()
    issuer.setJwksBehavior({ delayMs: 300 })
    const remote = createRemoteJWKSet(new URL(uri), { timeoutDuration: 50 })
    await expect(jwtVerify(await issuer.token(), remote)).rejects.toThrow(errors.JWKSTimeout)

    issuer.setJwksBehavior({ delayMs: 50 })
    const started = Date.now()
    const response = await fetch(uri)
    expect(Date.now() - started).toBeGreaterThanOrEqual(40)
    expect(await response.json()).toEqual(issuer.jwks)
  })

  it('{ body, contentType } answers 200 with a raw body', async () => {
    const issuer = await make()
    const uri = await issuer.listen()
    issuer.setJwksBehavior({ body: 'not json' })
    await expect(jwtVerify(await issuer.token(), createRemoteJWKSet(new URL(uri)))).rejects.toThrow(
      errors.JOSEError,
    )

    issuer.setJwksBehavior({ body: '<html></html>', contentType: 'text/html' })
    const html = await fetch(uri)
    expect(html.status).toBe(200)
    expect(html.headers.get('content-type')).toBe('text/html')
    expect(await html.text()).toBe('<html></html>')

    const big = Buffer.alloc(10 * 1024 * 1024, 0x20)
    issuer.setJwksBehavior({ body: big })
    const response = await fetch(uri)
    expect(response.headers.get('content-length')).toBe(String(big.byteLength))
    expect((await response.arrayBuffer()).byteLength).toBe(big.byteLength)
  })

  it('rejects an invalid behavior with a TypeError', async () => {
    const issuer = await make()
    for (const behavior of [
      'sluggish',
      { status: 42 },
      { dripMs: 0 },
      { hugeBytes: 8 },
      { delayMs: -1 },
      { body: 42 },
      {},
      null,
    ] as unknown as Parameters<TestIssuer['setJwksBehavior']>[0][]) {
      expect(() => issuer.setJwksBehavior(behavior)).toThrow(TypeError)
    }
  })

  it('close() is idempotent, never hangs, and listen() works again afterwards', async () => {
    const issuer = await make()
    await issuer.close()
    const uri = await issuer.listen()
    issuer.setJwksBehavior({ delayMs: 60_000 })
    const pending = fetch(uri)
    await expect.poll(() => issuer.jwksRequests).toBe(1)

    const started = Date.now()
    await Promise.all([issuer.close(), issuer.close()])
    await issuer.close()
    expect(Date.now() - started).toBeLessThan(1000)
    await expect(pending).rejects.toThrow()
    await expect(fetch(uri)).rejects.toThrow()

    issuer.setJwksBehavior('ok')
    const again = await issuer.listen()
    expect((await fetch(again)).status).toBe(200)
  })
})

describe('bearer', () => {
  it('builds an authorization header', () => {
    expect(bearer('abc')).toEqual({ authorization: 'Bearer abc' })
  })
})
