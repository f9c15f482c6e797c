import { randomBytes } from 'node:crypto'
import { buildPayload, createTestKey, signToken, type TestKey } from '@portcullis/testing'
import { errors } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { createVerifier } from './create-verifier.js'
import { decodeJws, SignatureChecks } from './jws.js'

// A forged token is the cheapest request an attacker can send: refusing it must cost no more
// than accepting a genuine one (issue 26). These tests pin what that path does not build.

const ISSUER = 'https://auth.test'
const AUDIENCE = 'api'
let key: TestKey

beforeAll(async () => {
  key = await createTestKey({ kid: 'k1', alg: 'ES256' })
})

const genuine = (n: number): Promise<string> =>
  signToken(key, buildPayload({ issuer: ISSUER, audience: AUDIENCE }, { sub: `user-${n}` }))

/** The token with its signature replaced by random bytes of the same length. */
function forge(token: string): string {
  const dot = token.lastIndexOf('.')
  const length = Buffer.from(token.slice(dot + 1), 'base64url').length
  return `${token.slice(0, dot + 1)}${randomBytes(length).toString('base64url')}`
}

function thrown(run: () => unknown): unknown {
  try {
    run()
  } catch (err) {
    return err
  }
  throw new Error('expected a synchronous refusal')
}

describe('refusing a forged signature', () => {
  it('throws one shared, frozen error that names no token', async () => {
    const checks = new SignatureChecks()
    const first = decodeJws(await genuine(1))
    await checks.verify(first, key.publicKey)
    const a = forge(await genuine(2))
    const b = forge(await genuine(3))
    const errA = thrown(() => checks.verify(decodeJws(a), key.publicKey))
    const errB = thrown(() => checks.verify(decodeJws(b), key.publicKey))
    expect(errA).toBeInstanceOf(errors.JWSSignatureVerificationFailed)
    expect(errB).toBe(errA)
    expect(Object.isFrozen(errA)).toBe(true)
    const text = `${(errA as Error).message} ${(errA as Error).stack}`
    for (const token of [a, b]) expect(text).not.toContain(token.split('.')[2])
  })

  it('is answered by the verifier synchronously, without a stack trace', async () => {
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
      const err = thrown(() => verifier.verify(forged)) as Error & { code: string }
      expect(err.code).toBe('PCL_TOKEN_INVALID')
      // The message line only: no frame was captured.
      expect(err.stack?.split('\n')).toHaveLength(1)
      expect(err.message).not.toContain(forged.split('.')[2])
      refusals.add(err)
    }
    // One refusal, built once, frozen: nothing of a request is written on it.
    expect(refusals.size).toBe(1)
    expect(Object.isFrozen([...refusals][0])).toBe(true)
    // A genuine fresh token of the same key is answered as synchronously.
    expect(verifier.verify(await genuine(9))).toMatchObject({ subject: 'user-9' })
  })
})
