import { createHash } from 'node:crypto'
import {
  calculateJwkThumbprint,
  decodeJwt,
  decodeProtectedHeader,
  EmbeddedJWK,
  jwtVerify,
} from 'jose'
import { describe, expect, it } from 'vitest'
import { accessTokenHash, createDpopKey, signDpopProof, type KeyPairAlgorithm } from './index.js'

const HTU = 'http://api.test/v1/videos/1'

describe('createDpopKey', () => {
  it.each<KeyPairAlgorithm>(['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'])(
    'makes a %s client key whose jkt is the thumbprint of its public JWK',
    async (alg) => {
      const key = await createDpopKey(alg)
      expect(key.alg).toBe(alg)
      expect(key.jwk).not.toHaveProperty('d')
      expect(key.jkt).toBe(await calculateJwkThumbprint(key.jwk))
    },
  )

  it('refuses HMAC algorithms', async () => {
    await expect(createDpopKey('HS256' as KeyPairAlgorithm)).rejects.toThrow(TypeError)
  })
})

describe('signDpopProof', () => {
  it('signs a dpop+jwt with the public JWK in its header and htm, htu, iat, jti, ath', async () => {
    const key = await createDpopKey()
    const proof = await signDpopProof(key, { htu: HTU, token: 'an.access.token' })
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
    })
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    expect(payload).toMatchObject({ htm: 'GET', htu: HTU, ath: accessTokenHash('an.access.token') })
    expect(payload.iat).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 1)
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('takes htm, iat, jti and nonce; claims override or drop, header adds', async () => {
    const key = await createDpopKey()
    const proof = await signDpopProof(key, {
      htm: 'POST',
      htu: HTU,
      iat: 1,
      jti: 'j1',
      nonce: 'n1',
      claims: { jti: undefined, extra: true },
      header: { kid: 'client' },
    })
    expect(decodeJwt(proof)).toEqual({ htm: 'POST', htu: HTU, iat: 1, nonce: 'n1', extra: true })
    expect(decodeProtectedHeader(proof)).toMatchObject({ kid: 'client', typ: 'dpop+jwt' })
  })

  it('accessTokenHash is the base64url SHA-256 of the token (RFC 9449 §4.2)', () => {
    expect(accessTokenHash('abc')).toBe(createHash('sha256').update('abc').digest('base64url'))
  })
})
