import { createRemoteJWKSet, errors, jwtVerify } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import {
  buildPayload,
  createJwksServer,
  createTestIssuer,
  createTestKey,
  HUGE_JWKS_BYTES,
  SLOW_JWKS_MS,
  signToken,
  type JwksServer,
} from './index.js'

const servers: JwksServer[] = []

function make(...args: Parameters<typeof createJwksServer>): JwksServer {
  const server = createJwksServer(...args)
  servers.push(server)
  return server
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const defaults = { issuer: 'https://auth.test', audience: 'api' }

describe('createJwksServer', () => {
  it('serves an empty key set by default, then what setJwks() gives, object or function', async () => {
    const server = make()
    const uri = await server.listen()
    expect(await (await fetch(uri)).json()).toEqual({ keys: [] })

    const key = await createTestKey({ kid: 'k1' })
    server.setJwks({ keys: [key.jwk] })
    const remote = createRemoteJWKSet(new URL(uri))
    await expect(
      jwtVerify(await signToken(key, buildPayload(defaults)), remote),
    ).resolves.toMatchObject({ protectedHeader: { alg: 'ES256', kid: 'k1' } })

    let served = 0
    server.setJwks(() => ({ keys: [{ ...key.jwk, kid: `k${++served}` }] }))
    expect(await (await fetch(uri)).json()).toEqual({ keys: [{ ...key.jwk, kid: 'k1' }] })
    expect(await (await fetch(uri)).json()).toEqual({ keys: [{ ...key.jwk, kid: 'k2' }] })
    expect(server.requests).toBe(4)
    expect(server.bytesSent).toBeGreaterThan(0)
  })

  it("'garbage' answers 200 application/json with a body that is not JSON", async () => {
    const server = make()
    const uri = await server.listen()
    server.setBehavior('garbage')
    const response = await fetch(uri)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/json')
    const text = await response.text()
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError)
    await expect(createRemoteJWKSet(new URL(uri))({ alg: 'ES256' })).rejects.toThrow(
      /Failed to parse/,
    )
  })

  it("'huge' streams 10 MiB of a key set without keys and without Content-Length", async () => {
    const server = make()
    const uri = await server.listen()
    server.setBehavior('huge')
    const response = await fetch(uri)
    expect(response.headers.get('content-length')).toBeNull()
    const body = await response.text()
    expect(Buffer.byteLength(body)).toBe(HUGE_JWKS_BYTES)
    expect(JSON.parse(body)).toMatchObject({ keys: [] })
    expect(server.bytesSent).toBe(HUGE_JWKS_BYTES)
  })

  it('{ hugeBytes, contentLength } sets the size, and stops sending when the client hangs up', async () => {
    const server = make()
    const uri = await server.listen()
    server.setBehavior({ hugeBytes: 100_000, contentLength: true })
    const response = await fetch(uri)
    expect(response.headers.get('content-length')).toBe('100000')
    expect((await response.arrayBuffer()).byteLength).toBe(100_000)

    server.setBehavior('huge')
    const before = server.bytesSent
    const controller = new AbortController()
    const partial = await fetch(uri, { signal: controller.signal })
    const reader = partial.body!.getReader()
    await reader.read()
    controller.abort()
    await new Promise((resolve) => setTimeout(resolve, 200))
    const sent = server.bytesSent - before
    expect(sent).toBeGreaterThan(0)
    expect(sent).toBeLessThan(HUGE_JWKS_BYTES / 2)
  })

  it("'slow' answers after SLOW_JWKS_MS, so only the client's timeout ends the request", async () => {
    expect(SLOW_JWKS_MS).toBeGreaterThan(60_000)
    const server = make()
    const uri = await server.listen()
    server.setBehavior('slow')
    const remote = createRemoteJWKSet(new URL(uri), { timeoutDuration: 50 })
    await expect(remote({ alg: 'ES256' })).rejects.toThrow(errors.JWKSTimeout)
    const started = Date.now()
    await server.close()
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('{ dripMs } answers at once, then drips the body one byte at a time until the client gives up', async () => {
    const server = make()
    const uri = await server.listen()
    server.setBehavior({ dripMs: 10 })
    const response = await fetch(uri)
    expect(response.status).toBe(200)
    // jose times out reading the body: a JOSEError whose cause is the timeout.
    const remote = createRemoteJWKSet(new URL(uri), { timeoutDuration: 150 })
    await expect(remote({ alg: 'ES256' })).rejects.toThrow(errors.JOSEError)
    const reader = response.body!.getReader()
    let bytes = 0
    while (bytes < 3) bytes += (await reader.read()).value?.byteLength ?? 0
    await reader.cancel()
  })

  it("'down' and the named faults are switched at run time, and 'ok' restores the endpoint", async () => {
    const issuer = await createTestIssuer()
    const uri = await issuer.listen()
    try {
      for (const fault of ['down', 'garbage', 'huge'] as const) {
        issuer.setJwksBehavior(fault)
        const remote = (): ReturnType<typeof createRemoteJWKSet> => createRemoteJWKSet(new URL(uri))
        await expect(jwtVerify(await issuer.token(), remote())).rejects.toThrow()
        issuer.setJwksBehavior('ok')
        await expect(jwtVerify(await issuer.token(), remote())).resolves.toBeDefined()
      }
      expect(issuer.jwksRequests).toBe(6)
      expect(issuer.jwksBytesSent).toBeGreaterThanOrEqual(HUGE_JWKS_BYTES)
    } finally {
      await issuer.close()
    }
  })
})
