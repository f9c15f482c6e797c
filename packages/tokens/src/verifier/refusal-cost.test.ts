import * as nodeCrypto from 'node:crypto'
import { createPublicKey, randomBytes } from 'node:crypto'
import { buildPayload, createTestKey, signToken, type TestKey } from '@portcullis/testing'
import { errors, generateKeyPair, SignJWT } from 'jose'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { createVerifier } from './create-verifier.js'
import { CheckBatch, decodeJws, SignatureChecks, SIGNATURE_REFUSED } from './jws.js'

// Node's two signature APIs, watched: which one a check takes is part of its cost.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof nodeCrypto>()
  return { ...actual, createVerify: vi.fn(actual.createVerify), verify: vi.fn(actual.verify) }
})
const streaming = vi.mocked(nodeCrypto.createVerify)
const oneShot = vi.mocked(nodeCrypto.verify)

// A forged token is the cheapest request an attacker can send: refusing it must cost no more
// than accepting a genuine one (issue 26). These tests pin what that path does not build.

const ISSUER = 'https://auth.test'
const AUDIENCE = 'api'
let key: TestKey

beforeAll(async () => {
  key = await createTestKey({ kid: 'k1', alg: 'ES256' })
})

/** A token `signer` signs for this issuer and audience, for subject `user-<n>`. */
const signedBy = (signer: TestKey, n: number): Promise<string> =>
  signToken(signer, buildPayload({ issuer: ISSUER, audience: AUDIENCE }, { sub: `user-${n}` }))
const genuine = (n: number): Promise<string> => signedBy(key, n)

/** The token with its signature replaced by random bytes of the same length. */
function forge(token: string): string {
  const dot = token.lastIndexOf('.')
  const length = Buffer.from(token.slice(dot + 1), 'base64url').length
  return `${token.slice(0, dot + 1)}${randomBytes(length).toString('base64url')}`
}

/** What `run` threw or rejected with. */
async function refused(run: () => unknown): Promise<unknown> {
  try {
    await run()
  } catch (err) {
    return err
  }
  throw new Error('expected a refusal')
}

describe('refusing a forged signature', () => {
  it('throws one shared, frozen error that names no token', async () => {
    const checks = new SignatureChecks()
    const first = decodeJws(await genuine(1))
    await checks.check(first, key.publicKey)
    const a = forge(await genuine(2))
    const b = forge(await genuine(3))
    const errA = await refused(() => checks.check(decodeJws(a), key.publicKey))
    const errB = await refused(() => checks.check(decodeJws(b), key.publicKey))
    expect(errA).toBeInstanceOf(errors.JWSSignatureVerificationFailed)
    expect(errB).toBe(errA)
    expect(Object.isFrozen(errA)).toBe(true)
    const text = `${(errA as Error).message} ${(errA as Error).stack}`
    for (const token of [a, b]) expect(text).not.toContain(token.split('.')[2])
  })

  it('is answered by the verifier without a stack trace', async () => {
    const verifier = createVerifier({
      issuers: [
        { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], jwks: { keys: [key.jwk] } },
      ],
      cache: false,
    })
    await verifier.verify(await genuine(1))
    const refusals = new Set<unknown>()
    for (let n = 2; n < 6; n++) {
      const forged = forge(await genuine(n))
      const err = (await refused(() => verifier.verify(forged))) as Error & { code: string }
      expect(err.code).toBe('PCL_TOKEN_INVALID')
      // The message line only: no frame was captured.
      expect(err.stack?.split('\n')).toHaveLength(1)
      expect(err.message).not.toContain(forged.split('.')[2])
      refusals.add(err)
    }
    // One refusal, built once, frozen: nothing of a request is written on it.
    expect(refusals.size).toBe(1)
    expect(Object.isFrozen([...refusals][0])).toBe(true)
    // A genuine fresh token of the same key is accepted by the same check.
    expect(await verifier.verify(await genuine(9))).toMatchObject({ subject: 'user-9' })
  })

  // Why: docs/performance.md, "Fresh tokens". A forged signature takes the same road.
  it.each(['ES256', 'RS256', 'PS256', 'EdDSA'] as const)(
    'checks a known %s key in a batch once the loop has read its sockets, forged or not',
    async (alg) => {
      const signer = await createTestKey({ kid: 'p1', alg })
      const mint = (n: number): Promise<string> => signedBy(signer, n)
      const checks = new SignatureChecks()
      await checks.check(decodeJws(await mint(1)), signer.publicKey)
      const tokens = [await mint(2), forge(await mint(3)), await mint(4)].map(decodeJws)
      const settled: string[] = []
      const answers = tokens.map((jws, n) => {
        const answer = checks.check(jws, signer.publicKey)
        expect(answer).toBeInstanceOf(Promise)
        return (answer as Promise<void>).then(
          () => settled.push(`${n} ok`),
          (err: unknown) => settled.push(`${n} ${(err as Error).constructor.name}`),
        )
      })
      // Nothing is checked inside the callback that asked: not after its microtasks either.
      for (let tick = 0; tick < 5; tick++) await Promise.resolve()
      expect(settled).toEqual([])
      // All three in the loop's next check phase, in the order they were asked.
      await new Promise((resolve) => setImmediate(resolve))
      await Promise.all(answers)
      expect(settled).toEqual(['0 ok', '1 JWSSignatureVerificationFailed', '2 ok'])
    },
  )

  it.each([
    ['ES256', 'streaming', 1, 0],
    ['RS256', 'streaming', 1, 0],
    ['PS256', 'streaming', 1, 0],
    ['EdDSA', 'one-shot', 0, 1],
  ] as const)('checks %s through the %s API', async (alg, _api, streamed, oneShots) => {
    const signer = await createTestKey({ kid: 'api', alg })
    const mint = (n: number): Promise<string> => signedBy(signer, n)
    const checks = new SignatureChecks()
    await checks.check(decodeJws(await mint(1)), signer.publicKey)
    const jws = decodeJws(await mint(2))
    streaming.mockClear()
    oneShot.mockClear()
    await checks.check(jws, signer.publicKey)
    expect([streaming.mock.calls.length, oneShot.mock.calls.length]).toEqual([streamed, oneShots])
  })

  it.each([
    ['ES256', 64],
    ['ES384', 96],
    ['ES512', 132],
  ] as const)(
    'refuses an %s signature that is not %i octets before OpenSSL',
    async (alg, octets) => {
      const { privateKey, publicKey } = await generateKeyPair(alg)
      const mint = (n: number): Promise<string> =>
        new SignJWT(buildPayload({ issuer: ISSUER, audience: AUDIENCE }, { sub: `u${n}` }))
          .setProtectedHeader({ alg })
          .sign(privateKey)
      const checks = new SignatureChecks()
      await checks.check(decodeJws(await mint(1)), publicKey)
      const genuineToken = await mint(2)
      const [head, payload, signature] = genuineToken.split('.') as [string, string, string]
      const bytes = Buffer.from(signature, 'base64url')
      expect(bytes.length).toBe(octets)
      streaming.mockClear()
      oneShot.mockClear()
      for (const wrong of [bytes.subarray(1), Buffer.concat([bytes, Buffer.of(0)])]) {
        const jws = decodeJws(`${head}.${payload}.${wrong.toString('base64url')}`)
        expect(await refused(() => checks.check(jws, publicKey))).toBe(SIGNATURE_REFUSED)
      }
      expect(streaming).not.toHaveBeenCalled()
      expect(oneShot).not.toHaveBeenCalled()
    },
  )

  it('asks the one-shot API again when the streaming one throws, and answers what it says', async () => {
    const checks = new SignatureChecks()
    await checks.check(decodeJws(await genuine(1)), key.publicKey)
    const throwing = (): never => {
      throw new Error('streaming verify failed')
    }
    const broken = { update: () => ({ verify: throwing }) } as never
    streaming.mockImplementationOnce(() => broken).mockImplementationOnce(() => broken)
    const forged = decodeJws(forge(await genuine(3)))
    oneShot.mockClear()
    await expect(checks.check(decodeJws(await genuine(2)), key.publicKey)).resolves.toBeUndefined()
    expect(await refused(() => checks.check(forged, key.publicKey))).toBe(SIGNATURE_REFUSED)
    expect(oneShot).toHaveBeenCalledTimes(2)
  })

  it('completes its checks under fake timers installed after it loaded', async () => {
    const checks = new SignatureChecks()
    await checks.check(decodeJws(await genuine(1)), key.publicKey)
    vi.useFakeTimers({ toFake: ['setImmediate', 'setTimeout', 'setInterval'] })
    try {
      const good = checks.check(decodeJws(await genuine(2)), key.publicKey)
      const bad = checks.check(decodeJws(forge(await genuine(3))), key.publicKey)
      await expect(good).resolves.toBeUndefined()
      await expect(bad).rejects.toBeInstanceOf(errors.JWSSignatureVerificationFailed)
    } finally {
      vi.useRealTimers()
    }
  })

  it('refuses a check that throws alone: the rest of its batch is still checked', async () => {
    const batch = new CheckBatch()
    const [input, signature] = [Buffer.from('a.b'), Buffer.alloc(64)]
    const valid = (): string => 'valid'
    const refused = (err: unknown): never => {
      throw err
    }
    // Node throws for a key it cannot read; the check beside it is answered.
    const broken = batch.verify('sha256', input, 'not a key', signature, valid, refused)
    const forged = batch.verify('sha256', input, key.publicKey as never, signature, valid, refused)
    await expect(broken).rejects.toThrow()
    await expect(forged).rejects.toBe(SIGNATURE_REFUSED)
    // What `valid` throws is the answer too.
    const genuineJws = decodeJws(await genuine(4))
    const keyObject = createPublicKey({ key: key.jwk, format: 'jwk' })
    const throwing = batch.verify(
      'sha256',
      genuineJws.signingInput,
      { key: keyObject, dsaEncoding: 'ieee-p1363' },
      genuineJws.signature,
      () => {
        throw new Error('claims refused')
      },
      refused,
    )
    await expect(throwing).rejects.toThrow('claims refused')
  })

  it('checks a known HMAC secret at once: a digest and a constant-time comparison', async () => {
    const secret = randomBytes(32)
    const mint = (n: number): Promise<string> =>
      new SignJWT(buildPayload({ issuer: ISSUER, audience: AUDIENCE }, { sub: `u${n}` }))
        .setProtectedHeader({ alg: 'HS256' })
        .sign(secret)
    const checks = new SignatureChecks()
    await checks.check(decodeJws(await mint(1)), secret)
    expect(checks.check(decodeJws(await mint(2)), secret)).toBeUndefined()
    const forgedA = decodeJws(forge(await mint(3)))
    const forgedB = decodeJws(forge(await mint(4)))
    expect(() => checks.check(forgedA, secret)).toThrow(errors.JWSSignatureVerificationFailed)
    expect(await refused(() => checks.check(forgedA, secret))).toBe(
      await refused(() => checks.check(forgedB, secret)),
    )
  })
})
