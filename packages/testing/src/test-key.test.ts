import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import {
  buildPayload,
  createTestKey,
  epochSeconds,
  rawToken,
  signToken,
  type KeyPairAlgorithm,
} from './index.js'

const defaults = { issuer: 'https://auth.test', audience: 'api' }

describe('createTestKey', () => {
  it.each<KeyPairAlgorithm>(['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'])(
    'generates a %s key pair with a public JWK carrying kid, alg and use',
    async (alg) => {
      const key = await createTestKey({ alg, kid: `${alg}-1` })
      expect(key).toMatchObject({ alg, kid: `${alg}-1` })
      expect(key.jwk).toMatchObject({ kid: `${alg}-1`, alg, use: 'sig' })
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
        expect(key.jwk).not.toHaveProperty(secret)
      expect(key.publicKey.type).toBe('public')
      expect(key.privateKey.extractable).toBe(true)
      const token = await signToken(key, buildPayload(defaults))
      await expect(jwtVerify(token, createLocalJWKSet({ keys: [key.jwk] }))).resolves.toBeDefined()
    },
  )

  it('defaults to ES256 and a thumbprint kid, and refuses HMAC and unknown algorithms', async () => {
    const key = await createTestKey()
    expect(key.alg).toBe('ES256')
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/)
    await expect(createTestKey({ alg: 'HS256' as KeyPairAlgorithm })).rejects.toThrow(TypeError)
    await expect(createTestKey({ alg: 'ES512' as KeyPairAlgorithm })).rejects.toThrow(TypeError)
    await expect(createTestKey({ kid: '' })).rejects.toThrow(TypeError)
  })
})

describe('buildPayload', () => {
  it('fills iss, aud, sub, iat, exp and jti; claims override them, undefined leaves one out', () => {
    const now = epochSeconds()
    const payload = buildPayload(defaults, { scope: ['a', 'b'], jti: undefined })
    expect(payload).toEqual({
      iss: 'https://auth.test',
      aud: 'api',
      sub: 'user-1',
      iat: payload.iat,
      exp: payload.iat! + 300,
      scope: 'a b',
    })
    expect(payload.iat).toBeGreaterThanOrEqual(now)
    expect(buildPayload(defaults).jti).toMatch(/^[0-9a-f-]{36}$/)
  })
})

describe('signToken', () => {
  it("puts the key's alg and kid in the header; the header may override or drop them", async () => {
    const key = await createTestKey({ kid: 'k1' })
    const claims = buildPayload(defaults)
    expect(decodeProtectedHeader(await signToken(key, claims))).toEqual({ alg: 'ES256', kid: 'k1' })
    expect(
      decodeProtectedHeader(await signToken(key, claims, { kid: 'k9', typ: 'at+jwt' })),
    ).toEqual({ alg: 'ES256', kid: 'k9', typ: 'at+jwt' })
    expect(decodeProtectedHeader(await signToken(key, claims, { kid: undefined }))).toEqual({
      alg: 'ES256',
    })
    const crit = await signToken(key, claims, { crit: ['x-ext'], 'x-ext': 1 })
    expect(decodeProtectedHeader(crit)).toMatchObject({ crit: ['x-ext'] })
  })

  it('signs with a secret for an HMAC algorithm', async () => {
    const secret = new Uint8Array(32).fill(7)
    const token = await signToken({ alg: 'HS256', privateKey: secret }, buildPayload(defaults))
    await expect(jwtVerify(token, secret)).resolves.toMatchObject({
      protectedHeader: { alg: 'HS256' },
    })
  })
})

describe('rawToken', () => {
  it('encodes any header and payload and the given signature, without signing', () => {
    const token = rawToken({ alg: 'none' }, { sub: 'x' })
    expect(token.endsWith('.')).toBe(true)
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'none' })
    const [header, payload, signature] = rawToken(['a'], 'b', 'c2ln').split('.')
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual(['a'])
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).toBe('b')
    expect(signature).toBe('c2ln')
  })
})
