import { isPortcullisConfigError, type PortcullisConfigError } from '@portcullis/core'
import { createTestKey, epochSeconds, signToken, type TestKey } from '@portcullis/testing'
import { beforeAll, describe, expect, it } from 'vitest'
import { createRedisRevocation } from '../revocation/redis-revocation.js'
import { createVerifier } from '../verifier/index.js'
import { resolveTokensOptions } from './resolve-tokens-options.js'
import type { TokensIssuerOptions } from './tokens-options.js'

// Every time option takes its documented unit as a number, or a duration string in the one
// grammar of `durationIn` (@portcullis/core), and resolves to a number of that unit.

const base: TokensIssuerOptions = {
  issuer: 'https://auth.test',
  audience: 'api',
  algorithms: ['ES256'],
  jwksUri: 'https://auth.test/jwks.json',
}

function errorOf(run: () => unknown): PortcullisConfigError {
  try {
    run()
  } catch (err) {
    if (isPortcullisConfigError(err)) return err
    throw err
  }
  throw new Error('expected a PortcullisConfigError')
}

describe('time options of tokens', () => {
  it('resolve duration strings to their unit', () => {
    const resolved = resolveTokensOptions({
      issuers: [{ ...base, maxTokenAge: '1 hour' }],
      clockTolerance: '10s',
      jwks: { cooldown: '30s', cacheMaxAge: '10 minutes', timeout: '2.5s', staleIfError: '1d' },
      dpop: {
        maxAge: '1 minute',
        nonce: { lifetime: '5 minutes' },
        replay: { redis: { status: 'wait', call: () => Promise.resolve(null) }, timeout: '250ms' },
      },
    })
    expect(resolved.clockTolerance).toBe(10)
    expect(resolved.issuers[0]?.maxTokenAge).toBe(3600)
    expect(resolved.issuers[0]?.verifyOptions).toMatchObject({
      maxTokenAge: 3600,
      clockTolerance: 10,
    })
    expect(resolved.issuers[0]?.keys).toMatchObject({
      kind: 'remote',
      options: { cooldown: 30_000, cacheMaxAge: 600_000, timeout: 2500, staleIfError: 86_400_000 },
    })
    expect(resolved.dpop).toMatchObject({
      maxAge: 60,
      clockTolerance: 10,
      nonce: { lifetime: 300 },
      replay: { kind: 'redis', timeout: 250 },
    })
  })

  it('still take numbers in their unit, and "0s" where 0 is allowed', () => {
    const resolved = resolveTokensOptions({
      issuers: [{ ...base, maxTokenAge: 600 }],
      clockTolerance: '0s',
      jwks: { cooldown: 1000, staleIfError: '0 ms' },
      dpop: { maxAge: 30 },
    })
    expect(resolved.clockTolerance).toBe(0)
    expect(resolved.issuers[0]?.maxTokenAge).toBe(600)
    expect(resolved.issuers[0]?.keys).toMatchObject({
      options: { cooldown: 1000, staleIfError: 0 },
    })
    expect(resolved.dpop.maxAge).toBe(30)
  })

  it.each([
    ['1h', 3600],
    ['1 hour', 3600],
    ['2 days', 172_800],
    ['90s', 90],
    ['30 mins', 1800],
    ['1w', 604_800],
    ['1 year', 31_557_600],
    ['1.5h', 5400],
    ['1H', 3600],
  ])('maxTokenAge %j, a span of jose before, is still %d seconds', (span, seconds) => {
    const resolved = resolveTokensOptions({ issuers: [{ ...base, maxTokenAge: span }] })
    expect(resolved.issuers[0]?.maxTokenAge).toBe(seconds)
    expect(resolved.issuers[0]?.verifyOptions.maxTokenAge).toBe(seconds)
  })

  it.each([
    [{ clockTolerance: '0.5s' }, 'tokens.clockTolerance', /must be a whole number of seconds/],
    [
      { clockTolerance: '10 minutes' },
      'tokens.clockTolerance',
      /must be from 0 to 300 seconds \("10 minutes" is 600 seconds\)/,
    ],
    [{ clockTolerance: 'soon' }, 'tokens.clockTolerance', /must be a duration such as/],
    [{ clockTolerance: '-1s' }, 'tokens.clockTolerance', /must be from 0 to 300 seconds/],
    [{ jwks: { cooldown: '500ms' } }, 'tokens.jwks.cooldown', /from 1000 to 3600000 milliseconds/],
    [
      { jwks: { cacheMaxAge: '2 days' } },
      'tokens.jwks.cacheMaxAge',
      /from 1000 to 86400000 milliseconds/,
    ],
    [{ jwks: { timeout: '1.5ms' } }, 'tokens.jwks.timeout', /whole number of milliseconds/],
    [
      { jwks: { staleIfError: '8 days' } },
      'tokens.jwks.staleIfError',
      /from 0 to 604800000 milliseconds/,
    ],
    [{ dpop: { maxAge: '11 minutes' } }, 'tokens.dpop.maxAge', /from 1 to 600 seconds/],
    [{ dpop: { maxAge: '60' } }, 'tokens.dpop.maxAge', /a string without a unit is milliseconds/],
    [
      { dpop: { nonce: { lifetime: '5s' } } },
      'tokens.dpop.nonce.lifetime',
      /from 10 to 86400 seconds/,
    ],
    [{ dpop: { nonce: { lifetime: true } } }, 'tokens.dpop.nonce.lifetime', /must be a number/],
  ])('%j -> %s', (options, field, message) => {
    const err = errorOf(() => resolveTokensOptions({ issuers: [base], ...options }))
    expect(err.code).toBe('PCL_INVALID_OPTIONS')
    expect(err.field).toBe(field)
    expect(err.message).toContain(`${field}: `)
    expect(err.message).toMatch(message)
  })

  it.each(['1.5s', '0s', '1 hour ago', '-1h', '1e3s', 1.5, 0, Infinity])(
    'maxTokenAge %j is refused, never rounded',
    (maxTokenAge) => {
      const err = errorOf(() => resolveTokensOptions({ issuers: [{ ...base, maxTokenAge }] }))
      expect(err.field).toBe('tokens.issuers[0].maxTokenAge')
      expect(err.message).toMatch(/tokens\.issuers\[0\]\.maxTokenAge: must be /)
    },
  )
})

describe('maxTokenAge as a duration, end to end', () => {
  let key: TestKey
  beforeAll(async () => {
    key = await createTestKey({ kid: 'k1', alg: 'ES256' })
  })

  it('refuses a token older than "2 days" and accepts a younger one', async () => {
    const verifier = createVerifier({
      issuers: [
        {
          issuer: base.issuer,
          audience: 'api',
          algorithms: ['ES256'],
          jwks: { keys: [key.jwk] },
          maxTokenAge: '2 days',
        },
      ],
      cache: false,
    })
    const now = epochSeconds()
    const sign = (iat: number): Promise<string> =>
      signToken(key, {
        iss: base.issuer,
        aud: 'api',
        sub: 'user-1',
        iat,
        exp: now + 300,
      })
    // The verifier answers or throws synchronously once it has checked a signature of the key.
    const verified = async (token: string) => verifier.verify(token)
    await expect(verified(await sign(now - 86_400))).resolves.toMatchObject({
      subject: 'user-1',
    })
    await expect(verified(await sign(now - 3 * 86_400))).rejects.toMatchObject({
      code: 'PCL_TOKEN_EXPIRED',
    })
  })
})

describe('time options of createRedisRevocation', () => {
  const redis = { status: 'wait', call: () => Promise.resolve(null) }

  it('take duration strings, converted before the cross-field rule', () => {
    expect(() =>
      createRedisRevocation({
        redis,
        pollInterval: '1s',
        timeout: '200ms',
        staleAfter: '2s',
      }).close(),
    ).not.toThrow()
    // 1 s < 1 s + 4 × 200 ms
    const err = errorOf(() =>
      createRedisRevocation({ redis, pollInterval: '1s', timeout: '200ms', staleAfter: '1s' }),
    )
    expect(err.field).toBe('createRedisRevocation.staleAfter')
    expect(err.message).toMatch(/at least pollInterval \+ 4 × timeout \(1800\)/)
  })

  it('name the field of a bad one', () => {
    const err = errorOf(() => createRedisRevocation({ redis, pollInterval: '10ms' }))
    expect(err.field).toBe('createRedisRevocation.pollInterval')
    expect(err.message).toMatch(
      /must be from 50 to 60000 milliseconds \("10ms" is 10 milliseconds\)/,
    )
  })
})
