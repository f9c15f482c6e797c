// The issuer's `algorithms` list with keys that carry no `alg`. A JWK with `alg` lets jose's key
// selection refuse another algorithm by itself; a KeyObject, a CryptoKey-less PEM key or a JWK
// without `alg` verifies every algorithm of its family (RS*, PS* for an RSA key). So only the
// allowlist stands between an RS256 issuer and a correctly signed PS256 or RS512 token: these
// tests sign such tokens for real (no junk signature) and require a refusal.
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { isPortcullisError } from '@portcullis/core'
import { buildPayload, createJwksServer, type JwksServer } from '@portcullis/testing'
import { SignJWT, type JWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createVerifier, type Verifier } from './create-verifier.js'

const AUDIENCE = 'api'
const KEY_OBJECT = 'https://key-object.test'
const BARE_JWK = 'https://bare-jwk.test'
const REMOTE = 'https://remote-bare-jwk.test'
const EC_KEY = 'https://ec-key-object.test'

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
// A public JWK with no `alg` (and no `use`): what KeyObject.export gives, and many JWKS serve.
const bareJwk = { ...(rsa.publicKey.export({ format: 'jwk' }) as JWK), kid: 'rsa-1' }

let server: JwksServer
let verifier: Verifier

beforeAll(async () => {
  server = createJwksServer({ keys: [bareJwk] })
  const jwksUri = await server.listen()
  verifier = createVerifier({
    issuers: [
      { issuer: KEY_OBJECT, audience: AUDIENCE, algorithms: ['RS256'], keys: [rsa.publicKey] },
      { issuer: BARE_JWK, audience: AUDIENCE, algorithms: ['RS256'], jwks: { keys: [bareJwk] } },
      { issuer: REMOTE, audience: AUDIENCE, algorithms: ['RS256'], jwksUri },
      { issuer: EC_KEY, audience: AUDIENCE, algorithms: ['ES256'], keys: [ec.publicKey] },
    ],
    cache: false,
  })
})

afterAll(async () => {
  await server.close()
})

function sign(iss: string, alg: string, privateKey: KeyObject, kid?: string): Promise<string> {
  // jose signs with a Node KeyObject for any algorithm of its key type.
  return new SignJWT(buildPayload({ issuer: iss, audience: AUDIENCE }))
    .setProtectedHeader(kid === undefined ? { alg } : { alg, kid })
    .sign(privateKey)
}

async function codeOf(token: string): Promise<string> {
  try {
    await verifier.verify(token)
  } catch (err) {
    return isPortcullisError(err) ? err.code : `not a PortcullisError: ${String(err)}`
  }
  return 'accepted'
}

describe('the algorithm allowlist with keys that carry no alg', () => {
  it.each([KEY_OBJECT, BARE_JWK, REMOTE])('accepts the allowed RS256 (%s)', async (iss) => {
    expect(await codeOf(await sign(iss, 'RS256', rsa.privateKey, 'rsa-1'))).toBe('accepted')
  })

  it.each(
    [KEY_OBJECT, BARE_JWK, REMOTE].flatMap((iss) =>
      ['PS256', 'PS384', 'PS512', 'RS384', 'RS512'].map((alg) => [iss, alg] as const),
    ),
  )('refuses a correctly signed token of another alg of the family (%s, %s)', async (iss, alg) => {
    const before = server.requests
    expect(await codeOf(await sign(iss, alg, rsa.privateKey, 'rsa-1'))).toBe('PCL_TOKEN_INVALID')
    // Refused on its header, before any key is looked up.
    expect(server.requests).toBe(before)
  })

  it('refuses ES384 against an ES256 issuer whose key is a KeyObject', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    expect(await codeOf(await sign(EC_KEY, 'ES256', ec.privateKey))).toBe('accepted')
    expect(await codeOf(await sign(EC_KEY, 'ES384', other.privateKey))).toBe('PCL_TOKEN_INVALID')
  })

  it('a verifier that trusts PS256 too accepts the same kind of token: the refusals above are the allowlist', async () => {
    const wide = createVerifier({
      issuers: [
        {
          issuer: KEY_OBJECT,
          audience: AUDIENCE,
          algorithms: ['RS256', 'PS256'],
          keys: [rsa.publicKey],
        },
      ],
    })
    const token = await sign(KEY_OBJECT, 'PS256', rsa.privateKey)
    expect((await wide.verify(token)).issuer).toBe(KEY_OBJECT)
    const rs512 = await sign(KEY_OBJECT, 'RS512', rsa.privateKey)
    await expect(Promise.resolve().then(() => wide.verify(rs512))).rejects.toMatchObject({
      code: 'PCL_TOKEN_INVALID',
    })
  })
})
