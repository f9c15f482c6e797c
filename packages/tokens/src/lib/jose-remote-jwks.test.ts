// What jose's createRemoteJWKSet does on its own under each outage, observed rather than assumed:
// these tests pin the gaps RemoteKeySource closes (see remote-key-source.ts), and fail loudly if
// a jose upgrade changes them.
import { createRemoteJWKSet, errors } from 'jose'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { makeKey, startJwksServer, type JwksServer, type TestKey } from '../test-helpers/index.js'

let key: TestKey
let server: JwksServer

beforeAll(async () => {
  key = await makeKey('k1', 'ES256')
  server = await startJwksServer({ keys: [key.jwk] })
})

afterAll(async () => {
  await server.close()
})

beforeEach(() => {
  server.setJwks({ keys: [key.jwk] })
  server.setBehavior({ kind: 'ok' })
  vi.useFakeTimers({ toFake: ['Date'] })
})

afterEach(() => {
  vi.useRealTimers()
})

const header = { alg: 'ES256', kid: 'k1' }
const options = { cooldownDuration: 1000, cacheMaxAge: 10_000, timeoutDuration: 200 }

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
    server.setBehavior({ kind: 'status', status: 500 })
    const jwks = createRemoteJWKSet(new URL(server.url), options)
    const before = server.requests
    for (let i = 0; i < 5; i++) {
      const err = await failure(() => jwks(header))
      expect(err).toBeInstanceOf(errors.JOSEError)
      expect((err as Error).message).toMatch(/Expected 200 OK/)
    }
    expect(server.requests - before).toBe(5)
  })

  it('throws when a refresh after cacheMaxAge fails, although it holds the keys (no stale-if-error)', async () => {
    const jwks = createRemoteJWKSet(new URL(server.url), options)
    await jwks(header)
    server.setBehavior({ kind: 'reset' })
    vi.setSystemTime(Date.now() + 10_001)
    expect(await failure(() => jwks(header))).toBeInstanceOf(TypeError) // fetch failed
    expect(jwks.jwks()?.keys).toHaveLength(1)
  })

  it('reads a response of any size (no size limit)', async () => {
    server.setBehavior({ kind: 'huge', bytes: 2 * 1024 * 1024, contentLength: false })
    const jwks = createRemoteJWKSet(new URL(server.url), options)
    expect(await failure(() => jwks(header))).toBeInstanceOf(errors.JWKSNoMatchingKey)
    expect(jwks.fresh).toBe(true) // 2 MiB downloaded, parsed and installed as the key set
  })

  it('maps a slow endpoint to JWKSTimeout, garbage to JOSEError and a bad shape to JWKSInvalid', async () => {
    server.setBehavior({ kind: 'slow', ms: 1000 })
    expect(
      await failure(() => createRemoteJWKSet(new URL(server.url), options)(header)),
    ).toBeInstanceOf(errors.JWKSTimeout)
    server.setBehavior({ kind: 'garbage' })
    const garbage = await failure(() => createRemoteJWKSet(new URL(server.url), options)(header))
    expect((garbage as Error).message).toMatch(/Failed to parse/)
    server.setBehavior({ kind: 'not-jwks' })
    expect(
      await failure(() => createRemoteJWKSet(new URL(server.url), options)(header)),
    ).toBeInstanceOf(errors.JWKSInvalid)
  })

  it('refetches for an unknown kid at most once per cooldown after a success (as the issue needs)', async () => {
    const jwks = createRemoteJWKSet(new URL(server.url), options)
    await jwks(header)
    const before = server.requests
    for (let i = 0; i < 5; i++) await failure(() => jwks({ alg: 'ES256', kid: 'nope' }))
    expect(server.requests - before).toBe(0)
    vi.setSystemTime(Date.now() + 1001)
    for (let i = 0; i < 5; i++) await failure(() => jwks({ alg: 'ES256', kid: 'nope' }))
    expect(server.requests - before).toBe(1)
  })
})
