// What jose's createRemoteJWKSet does on its own under each outage, observed rather than assumed:
// these tests pin the gaps RemoteKeySource closes (see remote-key-source.ts), and fail loudly if
// a jose upgrade changes them. That jose reads a JWKS response of any size is not restated here
// (a 2 MiB download against a 200 ms timeout only measured the machine's load): our own limit,
// `jwks.maxBytes`, is tested in verifier/remote-jwks.test.ts, streamed and declared.
import { createJwksServer, createTestKey, type JwksServer, type TestKey } from '@portcullis/testing'
import { createRemoteJWKSet, errors } from 'jose'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'

let key: TestKey
let server: JwksServer
let uri: string

beforeAll(async () => {
  key = await createTestKey({ kid: 'k1', alg: 'ES256' })
  server = createJwksServer({ keys: [key.jwk] })
  uri = await server.listen()
})

afterAll(async () => {
  await server.close()
})

beforeEach(() => {
  server.setJwks({ keys: [key.jwk] })
  server.setBehavior('ok')
  vi.useFakeTimers({ toFake: ['Date'] })
})

afterEach(() => {
  vi.useRealTimers()
})

const header = { alg: 'ES256', kid: 'k1' }
// A timeout far above any loopback answer, even on a loaded machine: only the test of the slow
// endpoint (which never answers within a minute) uses a short one.
const options = { cooldownDuration: 1000, cacheMaxAge: 10_000, timeoutDuration: 10_000 }

async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run()
  } catch (err) {
    return err
  }
  return undefined
}

describe('jose createRemoteJWKSet, unwrapped', () => {
  it('fetches again on every call while the endpoint is down (no negative caching)', async () => {
    server.setBehavior({ status: 500 })
    const jwks = createRemoteJWKSet(new URL(uri), options)
    const before = server.requests
    for (let i = 0; i < 5; i++) {
      const err = await failure(() => jwks(header))
      expect(err).toBeInstanceOf(errors.JOSEError)
      expect((err as Error).message).toMatch(/Expected 200 OK/)
    }
    expect(server.requests - before).toBe(5)
  })

  it('throws when a refresh after cacheMaxAge fails, although it holds the keys (no stale-if-error)', async () => {
    const jwks = createRemoteJWKSet(new URL(uri), options)
    await jwks(header)
    server.setBehavior('down')
    vi.setSystemTime(Date.now() + 10_001)
    expect(await failure(() => jwks(header))).toBeInstanceOf(TypeError) // fetch failed
    expect(jwks.jwks()?.keys).toHaveLength(1)
  })

  it('maps a slow endpoint to JWKSTimeout, garbage to JOSEError and a bad shape to JWKSInvalid', async () => {
    server.setBehavior('slow')
    const short = { ...options, timeoutDuration: 200 }
    expect(await failure(() => createRemoteJWKSet(new URL(uri), short)(header))).toBeInstanceOf(
      errors.JWKSTimeout,
    )
    server.setBehavior('garbage')
    const garbage = await failure(() => createRemoteJWKSet(new URL(uri), options)(header))
    expect((garbage as Error).message).toMatch(/Failed to parse/)
    server.setBehavior({ body: '{"keys": "nope"}' })
    expect(await failure(() => createRemoteJWKSet(new URL(uri), options)(header))).toBeInstanceOf(
      errors.JWKSInvalid,
    )
  })

  it('refetches for an unknown kid at most once per cooldown after a success (as the issue needs)', async () => {
    const jwks = createRemoteJWKSet(new URL(uri), options)
    await jwks(header)
    const before = server.requests
    for (let i = 0; i < 5; i++) await failure(() => jwks({ alg: 'ES256', kid: 'nope' }))
    expect(server.requests - before).toBe(0)
    vi.setSystemTime(Date.now() + 1001)
    for (let i = 0; i < 5; i++) await failure(() => jwks({ alg: 'ES256', kid: 'nope' }))
    expect(server.requests - before).toBe(1)
  })
})
