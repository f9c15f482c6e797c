import { isPortcullisError } from '@portcullis/core'
import {
  accessTokenHash,
  createDpopKey,
  rawToken,
  signDpopProof,
  type DpopKey,
} from '@portcullis/testing'
import { SignJWT } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { resolveDpop } from '../options/resolve-tokens-options.js'
import { createProofVerifier, type ProofContext } from './verify-proof.js'

// The proof checks of RFC 9449 §4.3, one by one, framework-free. Each refusal names its reason
// in the (server-side) message; the client sees only the code and a safe detail.

const HTU = 'https://api.test/v1/videos/1'
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl'

let key: DpopKey
let other: DpopKey

beforeAll(async () => {
  key = await createDpopKey()
  other = await createDpopKey()
})

// Verification answers synchronously once a proof key is known: the cases below read every
// answer, thrown or returned, as a promise.
function verifier(options: Parameters<typeof resolveDpop>[0] = {}) {
  const proofs = createProofVerifier(resolveDpop(options, 5))
  return { verify: async (context: ProofContext): Promise<void> => proofs.verify(context) }
}

function context(proof: string, overrides: Partial<ProofContext> = {}): ProofContext {
  return {
    proof,
    method: 'GET',
    origins: ['https://api.test'],
    path: '/v1/videos/1',
    accessToken: TOKEN,
    jkt: key.jkt,
    ...overrides,
  }
}

async function refusal(
  promise: Promise<unknown>,
): Promise<{ code: string; message: string; detail: string | undefined; error: Error }> {
  try {
    await promise
  } catch (err) {
    if (!isPortcullisError(err)) throw err
    return { code: err.code, message: err.message, detail: err.detail, error: err }
  }
  throw new Error('expected a refusal')
}

describe('createProofVerifier', () => {
  it('checks the proofs of a known key the same way as the first, refusals included', async () => {
    const v = createProofVerifier(resolveDpop({}, 5))
    await v.verify(context(await signDpopProof(key, { htu: HTU, token: TOKEN })))
    const proof = await signDpopProof(key, { htu: HTU, token: TOKEN })
    const answer = async (p: string): Promise<unknown> => v.verify(context(p))
    await expect(answer(proof)).resolves.toBeUndefined()
    expect((await refusal(answer(proof))).code).toBe('PCL_DPOP_PROOF_REPLAYED')
    const forged = proof.replace(/\.[^.]+$/, `.${'A'.repeat(86)}`)
    expect((await refusal(answer(forged))).code).toBe('PCL_DPOP_PROOF_INVALID')
    // A key never seen is imported first, then the same checks.
    const unknownKey = await signDpopProof(other, { htu: HTU, token: TOKEN })
    expect((await refusal(answer(unknownKey))).code).toBe('PCL_TOKEN_BINDING_MISMATCH')
  })

  it('accepts a valid proof once', async () => {
    const v = verifier()
    const proof = await signDpopProof(key, { htu: HTU, token: TOKEN })
    await expect(v.verify(context(proof))).resolves.toBeUndefined()
    expect(await refusal(v.verify(context(proof)))).toMatchObject({
      code: 'PCL_DPOP_PROOF_REPLAYED',
      message: expect.stringMatching(/jti seen before/),
      detail: 'Every request needs a new DPoP proof.',
    })
  })

  // The detail is what the client reads in the problem+json body: it names what to fix.
  const TOO_OLD = 'The DPoP proof is too old; sign a new one.'
  const NOT_A_PROOF = 'The DPoP header is not a valid DPoP proof.'
  const claim = (name: string): string => `The DPoP proof's ${name} claim is missing or invalid.`
  it.each([
    [
      'a proof over maxProofBytes',
      { claims: { pad: 'x'.repeat(1200) } },
      /maxProofBytes/,
      'The DPoP proof is too large.',
    ],
    [
      'no jwk',
      { header: { jwk: undefined } },
      /no jwk/,
      'The DPoP proof must carry its public key as jwk.',
    ],
    [
      'another typ',
      { header: { typ: 'JWT' } },
      /typ/,
      "The DPoP proof's typ header is missing or invalid.",
    ],
    [
      'no typ',
      { header: { typ: undefined } },
      /typ/,
      "The DPoP proof's typ header is missing or invalid.",
    ],
    ['iat too old', { claims: { iat: Math.floor(Date.now() / 1000) - 120 } }, /too old/, TOO_OLD],
    [
      'iat in the future',
      { claims: { iat: Math.floor(Date.now() / 1000) + 120 } },
      /future/,
      'The DPoP proof is dated in the future.',
    ],
    ['no iat', { claims: { iat: undefined } }, /iat/, claim('iat')],
    [
      'a string iat',
      { claims: { iat: String(Math.floor(Date.now() / 1000)) } },
      /iat/,
      claim('iat'),
    ],
    ['no jti', { claims: { jti: undefined } }, /jti/, claim('jti')],
    ['a numeric jti', { claims: { jti: 7 } }, /jti/, 'The DPoP proof needs a jti.'],
    ['an empty jti', { claims: { jti: '' } }, /jti/, 'The DPoP proof needs a jti.'],
    ['no htm', { claims: { htm: undefined } }, /htm/, claim('htm')],
    [
      'another method',
      { htm: 'POST' },
      /htm does not match/,
      "The DPoP proof's htm is not this request's method.",
    ],
    ['no htu', { claims: { htu: undefined } }, /htu/, claim('htu')],
    [
      'an htu inside an array',
      { claims: { htu: [HTU] } },
      /htu does not match/,
      "The DPoP proof's htu is not this request's URL.",
    ],
    [
      'no ath',
      { claims: { ath: undefined } },
      /no ath/,
      "The DPoP proof's ath is not the hash of this access token.",
    ],
    [
      'another ath',
      { claims: { ath: accessTokenHash('another token') } },
      /ath does not match/,
      "The DPoP proof's ath is not the hash of this access token.",
    ],
  ])('refuses %s', async (_what, options, message, detail) => {
    const v = verifier({ maxProofBytes: 1024 })
    const proof = await signDpopProof(key, { htu: HTU, token: TOKEN, ...options })
    expect(await refusal(v.verify(context(proof)))).toMatchObject({
      code: 'PCL_DPOP_PROOF_INVALID',
      message: expect.stringMatching(message),
      detail,
    })
  })

  it('accepts a proof of exactly maxProofBytes, and refuses one byte less', async () => {
    const proof = await signDpopProof(key, { htu: HTU, token: TOKEN })
    await expect(
      verifier({ maxProofBytes: proof.length }).verify(context(proof)),
    ).resolves.toBeUndefined()
    expect(
      await refusal(verifier({ maxProofBytes: proof.length - 1 }).verify(context(proof))),
    ).toMatchObject({ detail: 'The DPoP proof is too large.' })
  })

  it('keeps the claims of a refused proof out of the logged error', async () => {
    const jti = `secret-jti-${Date.now()}`
    const proof = await signDpopProof(key, {
      htu: HTU,
      token: TOKEN,
      claims: { jti, iat: Math.floor(Date.now() / 1000) - 120 },
    })
    const { error } = await refusal(verifier().verify(context(proof)))
    // The jose error is the cause, for the log; its payload is not enumerable, so not logged.
    expect(error.cause).toBeInstanceOf(Error)
    expect(JSON.stringify(error.cause)).not.toContain(jti)
    expect(Object.keys(error.cause as object)).not.toContain('payload')
  })

  it('refuses a proof whose jwk is no usable key as no valid proof', async () => {
    const jwk = { ...key.jwk, x: 'AAAA' }
    const proof = await signDpopProof({ ...key, jwk }, { htu: HTU, token: TOKEN })
    expect(await refusal(verifier().verify(context(proof)))).toMatchObject({
      code: 'PCL_DPOP_PROOF_INVALID',
      message: expect.stringMatching(/not a valid DPoP proof JWT/),
      detail: NOT_A_PROOF,
    })
  })

  it('refuses a proof older than the replay cache remembers, even a never-seen one', async () => {
    const v = verifier({ replay: { max: 2 } })
    const old = Math.floor(Date.now() / 1000) - 30
    const sign = (iat: number) => signDpopProof(key, { htu: HTU, token: TOKEN, claims: { iat } })
    await v.verify(context(await sign(old)))
    await v.verify(context(await sign(old)))
    // A third proof evicts the first while it could still be replayed.
    await v.verify(context(await sign(Math.floor(Date.now() / 1000))))
    expect(await refusal(v.verify(context(await sign(old))))).toMatchObject({
      code: 'PCL_DPOP_PROOF_INVALID',
      message: expect.stringMatching(/replay cache/),
      detail: TOO_OLD,
    })
  })

  it.each([
    ['another path', 'https://api.test/v1/videos/2'],
    ['another origin', 'https://evil.test/v1/videos/1'],
    ['http for https', 'http://api.test/v1/videos/1'],
    ['credentials in the URL', 'https://u:p@api.test/v1/videos/1'],
    ['a relative URL', '/v1/videos/1'],
    ['another scheme', 'ftp://api.test/v1/videos/1'],
  ])('refuses an htu with %s', async (_what, htu) => {
    const proof = await signDpopProof(key, { htu, token: TOKEN })
    expect(await refusal(verifier().verify(context(proof)))).toMatchObject({
      code: 'PCL_DPOP_PROOF_INVALID',
      message: expect.stringMatching(/htu does not match/),
    })
  })

  it('compares htu without query and fragment, normalised (RFC 3986 §6.2.2, §6.2.3)', async () => {
    const v = verifier()
    for (const htu of [
      'https://API.test:443/v1/videos/1?q=1',
      'https://api.test/v1/%76ideos/1#x',
      'https://api.test/v1/./videos/1',
    ]) {
      const proof = await signDpopProof(key, { htu, token: TOKEN })
      await expect(v.verify(context(proof)), htu).resolves.toBeUndefined()
    }
  })

  it('refuses unsigned, symmetric and confused algorithms', async () => {
    const v = verifier()
    const payload = { htm: 'GET', htu: HTU, iat: Math.floor(Date.now() / 1000), jti: 'j1' }
    const none = rawToken({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk }, payload)
    expect(await refusal(v.verify(context(none)))).toMatchObject({
      message: expect.stringMatching(/compact JWS/),
      detail: 'The DPoP header is not a valid DPoP proof.',
    })
    const noneSigned = rawToken({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk }, payload, 'AAAA')
    expect(await refusal(v.verify(context(noneSigned)))).toMatchObject({
      code: 'PCL_DPOP_PROOF_INVALID',
      message: expect.stringMatching(/alg not allowed/),
      detail: 'The DPoP proof is signed with an algorithm not accepted here.',
    })
    const secret = new TextEncoder().encode(JSON.stringify(key.jwk))
    const hs = await new SignJWT({ ...payload, ath: accessTokenHash(TOKEN) })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk })
      .sign(secret)
    expect(await refusal(v.verify(context(hs)))).toMatchObject({
      message: expect.stringMatching(/alg not allowed/),
    })
    const oct = await new SignJWT({ ...payload, ath: accessTokenHash(TOKEN) })
      .setProtectedHeader({
        alg: 'HS256',
        typ: 'dpop+jwt',
        jwk: { kty: 'oct', k: 'AAAA' } as never,
      })
      .sign(secret)
    expect(await refusal(v.verify(context(oct)))).toMatchObject({
      message: expect.stringMatching(/private key/),
      detail: 'The DPoP proof jwk must be a public key.',
    })
  })

  it('refuses an algorithm outside dpop.algorithms', async () => {
    const rsa = await createDpopKey('RS256')
    const proof = await signDpopProof(rsa, { htu: HTU, token: TOKEN })
    expect(
      await refusal(verifier({ algorithms: ['ES256'] }).verify(context(proof, { jkt: rsa.jkt }))),
    ).toMatchObject({ message: expect.stringMatching(/alg not allowed/) })
  })

  it('refuses a private key in the jwk before using it', async () => {
    const { exportJWK } = await import('jose')
    const privateJwk = await exportJWK(key.privateKey)
    const proof = await signDpopProof({ ...key, jwk: privateJwk }, { htu: HTU, token: TOKEN })
    expect(await refusal(verifier().verify(context(proof)))).toMatchObject({
      message: expect.stringMatching(/private key/),
    })
  })

  it('refuses a bad signature, and a proof of another key than the bound one', async () => {
    const v = verifier()
    const forged = await signDpopProof({ ...other, jwk: key.jwk }, { htu: HTU, token: TOKEN })
    expect(await refusal(v.verify(context(forged)))).toMatchObject({
      message: expect.stringMatching(/bad signature/),
      detail: 'The DPoP proof signature does not verify with its jwk.',
    })
    const foreign = await signDpopProof(other, { htu: HTU, token: TOKEN })
    expect(await refusal(v.verify(context(foreign)))).toMatchObject({
      code: 'PCL_TOKEN_BINDING_MISMATCH',
      message: expect.stringMatching(/cnf\.jkt/),
      detail: 'The DPoP proof key does not match the key this access token is bound to.',
    })
  })

  it('asks for a nonce, then accepts the proof that carries it', async () => {
    const v = verifier({ nonce: { secret: 'x'.repeat(32) } })
    let nonce: string | undefined
    try {
      await v.verify(context(await signDpopProof(key, { htu: HTU, token: TOKEN })))
    } catch (err) {
      expect(err).toMatchObject({
        code: 'PCL_DPOP_NONCE_REQUIRED',
        message: 'DPoP proof without a nonce',
        detail: 'Sign a new DPoP proof with the nonce of the DPoP-Nonce header.',
      })
      nonce = (err as { headers?: Record<string, string> }).headers?.['DPoP-Nonce']
    }
    expect(nonce).toEqual(expect.any(String))
    const forged = await signDpopProof(key, {
      htu: HTU,
      token: TOKEN,
      claims: { nonce: `${nonce?.split('.')[0]}.${'A'.repeat(22)}` },
    })
    expect(await refusal(v.verify(context(forged)))).toMatchObject({
      code: 'PCL_DPOP_NONCE_REQUIRED',
      message: 'DPoP proof nonce not valid',
    })
    const proof = await signDpopProof(key, { htu: HTU, token: TOKEN, claims: { nonce } })
    await expect(v.verify(context(proof))).resolves.toBeUndefined()
  })
})
