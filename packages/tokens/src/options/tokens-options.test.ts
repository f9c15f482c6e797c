import { generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto'
import { isPortcullisConfigError, type PortcullisConfigError } from '@portcullis/core'
import { exportJWK, generateKeyPair, type CryptoKey } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { createVerifier } from '../verifier/index.js'
import { tokensOptionsSchema } from './tokens-options-schema.js'
import type { TokensIssuerOptions, TokensOptions } from './tokens-options.js'

const base: TokensIssuerOptions = {
  issuer: 'https://auth.test',
  audience: 'api',
  algorithms: ['ES256'],
  jwksUri: 'https://auth.test/jwks.json',
}

function configError(options: unknown): PortcullisConfigError {
  try {
    createVerifier(options as TokensOptions)
  } catch (err) {
    if (isPortcullisConfigError(err)) return err
    throw err
  }
  throw new Error('expected a PortcullisConfigError')
}

function expectField(options: unknown, field: string, message?: RegExp): void {
  const err = configError(options)
  expect(err.code).toBe('PCL_INVALID_OPTIONS')
  expect(err.field).toBe(field)
  expect(err.message).toContain(`${field}: `)
  if (message !== undefined) expect(err.message).toMatch(message)
}

const issuer = (overrides: Record<string, unknown>): { issuers: unknown[] } => {
  const merged: Record<string, unknown> = { ...base, ...overrides }
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key]
  return { issuers: [merged] }
}

let ecPublicJwk: Record<string, unknown>
let ecPrivateJwk: Record<string, unknown>
let rsaPublic: CryptoKey
let hmacSecret: Uint8Array

beforeAll(async () => {
  const ec = await generateKeyPair('ES256', { extractable: true })
  ecPublicJwk = { ...(await exportJWK(ec.publicKey)) }
  ecPrivateJwk = { ...(await exportJWK(ec.privateKey)) }
  rsaPublic = (await generateKeyPair('RS256')).publicKey
  hmacSecret = new Uint8Array(32).fill(3)
})

describe('valid options', () => {
  it('accepts each key source and the documented settings', () => {
    expect(() => createVerifier({ issuers: [base] })).not.toThrow()
    expect(() =>
      createVerifier({
        issuers: [
          {
            issuer: base.issuer,
            audience: 'api',
            algorithms: ['ES256'],
            jwks: { keys: [ecPublicJwk] },
          },
          {
            issuer: 'https://hmac.test',
            audience: ['api', 'other'],
            algorithms: ['HS256'],
            keys: [hmacSecret],
            typ: 'at+jwt',
            requiredClaims: ['jti'],
            maxTokenAge: '1h',
          },
          { issuer: 'https://rsa.test', audience: 'api', algorithms: ['RS256'], keys: [rsaPublic] },
        ],
        clockTolerance: 0,
        maxTokenBytes: 256,
        cache: false,
        jwks: { cooldown: 1000, cacheMaxAge: 1000, timeout: 100, maxBytes: 1024, staleIfError: 0 },
        isRevoked: () => false,
        realm: 'api',
        dpop: {
          algorithms: ['ES256', 'EdDSA'],
          maxAge: 30,
          maxProofBytes: 2048,
          replay: { max: 5000 },
          nonce: { secret: 'n'.repeat(32), lifetime: 120 },
          origin: ['https://api.test', 'http://localhost:3000'],
        },
      }),
    ).not.toThrow()
    expect(() =>
      createVerifier({
        issuers: [{ ...base, dpop: 'required' }],
        dpop: {
          replay: { redis: { status: 'wait', call: () => Promise.resolve(null) }, timeout: 100 },
          nonce: { secret: new Uint8Array(32) },
          origin: 'https://api.test',
        },
      }),
    ).not.toThrow()
  })

  it('allows http: only for loopback hosts', () => {
    for (const host of ['127.0.0.1', '[::1]', 'localhost']) {
      expect(() =>
        createVerifier(issuer({ jwksUri: `http://${host}:8080/jwks` }) as TokensOptions),
      ).not.toThrow()
    }
    expectField(issuer({ jwksUri: 'http://auth.test/jwks' }), 'tokens.issuers[0].jwksUri', /https/)
  })

  it('exposes realm and maxTokenBytes with defaults', () => {
    const verifier = createVerifier({ issuers: [base] })
    expect(verifier.realm).toBeUndefined()
    expect(verifier.maxTokenBytes).toBe(8192)
    expect(createVerifier({ issuers: [base], realm: 'x', maxTokenBytes: 300 })).toMatchObject({
      realm: 'x',
      maxTokenBytes: 300,
    })
  })

  it('is usable as a plain zod schema', () => {
    expect(tokensOptionsSchema.safeParse({ issuers: [base] }).success).toBe(true)
    expect(tokensOptionsSchema.safeParse({ issuers: [] }).success).toBe(false)
  })
})

describe('option errors name the field', () => {
  it.each([
    [{}, 'tokens.issuers'],
    [{ issuers: [] }, 'tokens.issuers'],
    [{ issuers: [base], extra: 1 }, 'tokens.extra'],
    [issuer({ extra: 1 }), 'tokens.issuers[0].extra'],
    [issuer({ issuer: '' }), 'tokens.issuers[0].issuer'],
    [issuer({ audience: [] }), 'tokens.issuers[0].audience'],
    [issuer({ audience: '' }), 'tokens.issuers[0].audience'],
    [issuer({ audience: 42 }), 'tokens.issuers[0].audience'],
    [issuer({ algorithms: [] }), 'tokens.issuers[0].algorithms'],
    [issuer({ algorithms: undefined }), 'tokens.issuers[0].algorithms'],
    [issuer({ algorithms: ['ES256', 'ES257'] }), 'tokens.issuers[0].algorithms[1]'],
    [issuer({ algorithms: ['ES256', 'ES256'] }), 'tokens.issuers[0].algorithms[1]'],
    [issuer({ jwksUri: 'not a url' }), 'tokens.issuers[0].jwksUri'],
    [issuer({ jwksUri: 'ftp://auth.test/jwks' }), 'tokens.issuers[0].jwksUri'],
    [issuer({ jwksUri: 'https://user:pw@auth.test/jwks' }), 'tokens.issuers[0].jwksUri'],
    [issuer({ typ: '' }), 'tokens.issuers[0].typ'],
    [issuer({ requiredClaims: [''] }), 'tokens.issuers[0].requiredClaims[0]'],
    [issuer({ maxTokenAge: -1 }), 'tokens.issuers[0].maxTokenAge'],
    [issuer({ maxTokenAge: '1 hour ago' }), 'tokens.issuers[0].maxTokenAge'],
    [{ issuers: [base], clockTolerance: 301 }, 'tokens.clockTolerance'],
    [{ issuers: [base], clockTolerance: 1.5 }, 'tokens.clockTolerance'],
    [{ issuers: [base], maxTokenBytes: 100 }, 'tokens.maxTokenBytes'],
    [{ issuers: [base], maxTokenBytes: 70_000 }, 'tokens.maxTokenBytes'],
    [{ issuers: [base], cache: { max: 0 } }, 'tokens.cache.max'],
    [{ issuers: [base], cache: { max: Infinity } }, 'tokens.cache.max'],
    [{ issuers: [base], cache: true }, 'tokens.cache'],
    [{ issuers: [base], cache: {} }, 'tokens.cache.max'],
    [{ issuers: [base], jwks: { cooldown: 0 } }, 'tokens.jwks.cooldown'],
    [{ issuers: [base], jwks: { maxBytes: 5 * 1024 * 1024 } }, 'tokens.jwks.maxBytes'],
    [{ issuers: [base], jwks: { retries: 3 } }, 'tokens.jwks.retries'],
    [{ issuers: [base], isRevoked: true }, 'tokens.isRevoked'],
    [{ issuers: [base], realm: '' }, 'tokens.realm'],
    [{ issuers: [base, base] }, 'tokens.issuers[1].issuer'],
    [issuer({ dpop: 'always' }), 'tokens.issuers[0].dpop'],
    [{ issuers: [base], dpop: true }, 'tokens.dpop'],
    [{ issuers: [base], dpop: { algorithms: [] } }, 'tokens.dpop.algorithms'],
    [{ issuers: [base], dpop: { algorithms: ['ES256', 'HS256'] } }, 'tokens.dpop.algorithms[1]'],
    [{ issuers: [base], dpop: { algorithms: ['none'] } }, 'tokens.dpop.algorithms[0]'],
    [{ issuers: [base], dpop: { algorithms: ['ES256', 'ES256'] } }, 'tokens.dpop.algorithms[1]'],
    [{ issuers: [base], dpop: { maxAge: 601 } }, 'tokens.dpop.maxAge'],
    [{ issuers: [base], dpop: { maxProofBytes: 20_000 } }, 'tokens.dpop.maxProofBytes'],
    [{ issuers: [base], dpop: { replay: { max: 999 } } }, 'tokens.dpop.replay.max'],
    [{ issuers: [base], dpop: { replay: { redis: {} } } }, 'tokens.dpop.replay.redis'],
    [
      { issuers: [base], dpop: { nonce: { secret: new Uint8Array(31) } } },
      'tokens.dpop.nonce.secret',
    ],
    [{ issuers: [base], dpop: { nonce: { lifetime: 86_401 } } }, 'tokens.dpop.nonce.lifetime'],
    [{ issuers: [base], dpop: { origin: 'https://api.test/v1' } }, 'tokens.dpop.origin'],
    [
      { issuers: [base], dpop: { origin: ['https://a.test', 'https://b.test?x'] } },
      'tokens.dpop.origin[1]',
    ],
    [{ issuers: [base], dpop: { origin: [] } }, 'tokens.dpop.origin'],
    [{ issuers: [base], dpop: { replayMax: 1 } }, 'tokens.dpop.replayMax'],
  ])('%j -> %s', (options, field) => {
    expectField(options, field)
  })

  it('reports each issuer without typ, and none with typ or typ: false', () => {
    const verifier = createVerifier({
      issuers: [
        base,
        { ...base, issuer: 'https://typed.test', typ: 'at+jwt' },
        { ...base, issuer: 'https://any.test', typ: false },
        { ...base, issuer: 'https://bare.test' },
      ],
    })
    expect(verifier.warnings?.map((w) => w.field)).toEqual([
      'tokens.issuers[0].typ',
      'tokens.issuers[3].typ',
    ])
    expect(verifier.warnings?.[1]?.message).toMatch(/https:\/\/bare\.test.*ID token.*typ: false/s)
    expect(Object.isFrozen(verifier.warnings)).toBe(true)
    for (const typ of [true, 0, null]) {
      expectField(issuer({ typ }), 'tokens.issuers[0].typ', /non-empty string.*or false/)
    }
    expectField(issuer({ typ: '' }), 'tokens.issuers[0].typ', /empty/)
  })

  it('accepts scopeClaim "scope" or "scp" only', () => {
    for (const scopeClaim of ['scope', 'scp']) {
      expect(() => createVerifier(issuer({ scopeClaim }) as TokensOptions)).not.toThrow()
    }
    for (const scopeClaim of ['roles', 'SCP', ['scp'], true]) {
      expectField(issuer({ scopeClaim }), 'tokens.issuers[0].scopeClaim', /"scope".*"scp"/)
    }
  })

  it('refuses "none" in any case', () => {
    for (const none of ['none', 'None', 'NONE', 'nOnE']) {
      expectField(
        issuer({ algorithms: ['ES256', none] }),
        'tokens.issuers[0].algorithms[1]',
        /never accepted/,
      )
    }
  })

  it('requires exactly one key source', () => {
    expectField(
      issuer({ jwksUri: undefined }),
      'tokens.issuers[0]',
      /exactly one of jwksUri, jwks or keys/,
    )
    expectField(
      issuer({ jwks: { keys: [ecPublicJwk] } }),
      'tokens.issuers[0]',
      /not jwksUri and jwks/,
    )
  })

  it('refuses HMAC with jwksUri and mixed algorithm kinds', () => {
    expectField(issuer({ algorithms: ['HS256'] }), 'tokens.issuers[0].algorithms', /jwksUri/)
    expectField(issuer({ algorithms: ['ES256', 'HS256'] }), 'tokens.issuers[0].algorithms', /mix/)
  })

  it('refuses a secret for asymmetric algorithms and an asymmetric key for HMAC', () => {
    expectField(
      issuer({ jwksUri: undefined, keys: [hmacSecret] }),
      'tokens.issuers[0].keys[0]',
      /secret/,
    )
    expectField(
      issuer({ jwksUri: undefined, algorithms: ['HS256'], keys: [rsaPublic] }),
      'tokens.issuers[0].keys[0]',
      /asymmetric/,
    )
    expectField(
      issuer({ jwksUri: undefined, algorithms: ['HS256'], jwks: { keys: [ecPublicJwk] } }),
      'tokens.issuers[0].jwks.keys[0]',
      /asymmetric/,
    )
  })

  it('refuses keys that cannot verify any configured algorithm', () => {
    expectField(
      issuer({ jwksUri: undefined, algorithms: ['ES384'], jwks: { keys: [ecPublicJwk] } }),
      'tokens.issuers[0].jwks.keys[0]',
      /cannot verify/,
    )
    expectField(
      issuer({ jwksUri: undefined, algorithms: ['ES256'], keys: [rsaPublic] }),
      'tokens.issuers[0].keys[0]',
      /cannot verify/,
    )
  })

  it('checks a JWK’s own alg, use and key_ops, and refuses private keys', () => {
    const field = 'tokens.issuers[0].jwks.keys[0]'
    const withJwk = (jwk: Record<string, unknown>): unknown =>
      issuer({ jwksUri: undefined, jwks: { keys: [jwk] } })
    expectField(withJwk({ ...ecPublicJwk, alg: 'ES384' }), field, /bound to an algorithm/)
    expectField(withJwk({ ...ecPublicJwk, use: 'enc' }), field, /"use"/)
    expectField(withJwk({ ...ecPublicJwk, key_ops: ['sign'] }), field, /key_ops/)
    expectField(withJwk(ecPrivateJwk), field, /private/)
    expectField(withJwk({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }), field, /valid/)
    expectField(withJwk({ kid: 'no-kty' }), field, /kty/)
    expect(() =>
      createVerifier(
        withJwk({ ...ecPublicJwk, alg: 'ES256', use: 'sig', key_ops: ['verify'] }) as TokensOptions,
      ),
    ).not.toThrow()
  })

  it('refuses private KeyObjects and CryptoKeys, and things that are not keys', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    expectField(
      issuer({ jwksUri: undefined, keys: [privateKey] }),
      'tokens.issuers[0].keys[0]',
      /private/,
    )
    const pair = await generateKeyPair('ES256')
    expectField(
      issuer({ jwksUri: undefined, keys: [pair.privateKey] }),
      'tokens.issuers[0].keys[0]',
      /private/,
    )
    expectField(
      issuer({ jwksUri: undefined, keys: ['secret'] }),
      'tokens.issuers[0].keys[0]',
      /must be/,
    )
    expectField(
      issuer({ jwksUri: undefined, keys: [new Date()] }),
      'tokens.issuers[0].keys[0]',
      /must be/,
    )
  })

  it('refuses weak keys (RFC 7518 §3.2, §3.3)', () => {
    const hs = (keys: unknown[], algorithms = ['HS256']): unknown =>
      issuer({ jwksUri: undefined, algorithms, keys })
    expectField(hs([new Uint8Array(16)]), 'tokens.issuers[0].keys[0]', /32 bytes/)
    expectField(
      hs([new Uint8Array(32)], ['HS256', 'HS512']),
      'tokens.issuers[0].keys[0]',
      /64 bytes/,
    )
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
    expectField(
      issuer({ jwksUri: undefined, algorithms: ['RS256'], keys: [publicKey] }),
      'tokens.issuers[0].keys[0]',
      /2048/,
    )
  })

  it('refuses RSA keys with a public exponent other than 65537, or over 8192 bits', async () => {
    const rsaJwk = (await exportJWK(rsaPublic)) as Record<string, unknown>
    const rs = (keys: unknown[], field = 'jwks'): unknown =>
      issuer({
        jwksUri: undefined,
        algorithms: ['RS256', 'PS256'],
        ...(field === 'jwks' ? { jwks: { keys } } : { keys }),
      })
    // e = 1 ("AQ"): anyone can forge a signature. e = 3 ("Aw"): no issuer signs with it.
    for (const e of ['AQ', 'Aw', 'AQAA', 'AQAAAQ']) {
      expectField(rs([{ ...rsaJwk, e }]), 'tokens.issuers[0].jwks.keys[0]', /exponent is not 65537/)
    }
    // An 8208-bit modulus (random, odd, top bit set): accepted by Node, refused here.
    const n = randomBytes(1026)
    n[0]! |= 0x80
    n[1025]! |= 1
    const huge = { kty: 'RSA', n: n.toString('base64url'), e: 'AQAB' }
    expectField(rs([rsaJwk, huge]), 'tokens.issuers[0].jwks.keys[1]', /longer than 8192 bits/)
    // The same rules for KeyObjects and CryptoKeys.
    const three = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey
    expectField(rs([three], 'keys'), 'tokens.issuers[0].keys[0]', /exponent is not 65537/)
    const webThree = await webcrypto.subtle.importKey(
      'jwk',
      { ...rsaJwk, e: 'Aw', alg: 'RS256' } as webcrypto.JsonWebKey,
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      true,
      ['verify'],
    )
    expectField(rs([webThree], 'keys'), 'tokens.issuers[0].keys[0]', /exponent is not 65537/)
    // 65537 with a leading zero octet is still 65537; 2048..8192 bits stay accepted.
    expect(() => createVerifier(rs([{ ...rsaJwk, e: 'AAEAAQ' }]) as TokensOptions)).not.toThrow()
    expect(() => createVerifier(rs([rsaPublic], 'keys') as TokensOptions)).not.toThrow()
  })

  it('never freezes or keeps the caller’s JWK objects', () => {
    const jwk = { ...ecPublicJwk }
    createVerifier(issuer({ jwksUri: undefined, jwks: { keys: [jwk] } }) as TokensOptions)
    expect(Object.isFrozen(jwk)).toBe(false)
  })

  it('lists several problems in one message', () => {
    const err = configError({ issuers: [base], clockTolerance: -1, maxTokenBytes: 1 })
    expect(err.message).toContain('tokens.clockTolerance')
    expect(err.message).toContain('tokens.maxTokenBytes')
  })
})
