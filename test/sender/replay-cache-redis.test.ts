import { isPortcullisError } from '@portcullis/core'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { createReplayCache } from '../../packages/tokens/src/dpop/replay-cache.js'
import { resolveDpop } from '../../packages/tokens/src/options/resolve-tokens-options.js'
import { useRedisServer } from '../fastify/sender-constraints.js'
import { runRedisTests } from '../rate-limit/redis-server.js'

// The DPoP replay cache on a real Redis (loopback redis-server): one SET NX PX per proof, what
// every instance sharing the Redis sees, and a stalled Redis refused within the deadline.

const now = (): number => Math.floor(Date.now() / 1000)

describe.runIf(runRedisTests)('createReplayCache (Redis)', () => {
  const { server, client } = useRedisServer()
  const cacheOn = async (timeout = 250) =>
    createReplayCache(resolveDpop({ replay: { redis: await client(), timeout } }, 5))

  it('tells a first use from a replay, across two instances sharing the Redis', async () => {
    const one = await cacheOn()
    const two = await cacheOn()
    const iat = now()
    expect(await one.record('key-a', 'jti-1', iat)).toBe('fresh')
    expect(await two.record('key-a', 'jti-1', iat)).toBe('replayed')
    expect(await two.record('key-b', 'jti-1', iat)).toBe('fresh')
  })

  it('a stalled Redis (CLIENT PAUSE) refuses the proof within the timeout, naming the store', async () => {
    const cache = await cacheOn(200)
    expect(await server().send('CLIENT PAUSE 700')).toBe('+OK')
    const started = Date.now()
    let failure: unknown
    try {
      await cache.record('key', 'stalled', now())
    } catch (err) {
      failure = err
    }
    expect(Date.now() - started).toBeLessThan(600)
    expect(isPortcullisError(failure) && failure.code).toBe('PCL_DPOP_UNAVAILABLE')
    expect((failure as Error).message).toMatch(/Redis/)
    // The Redis error is kept for the log.
    expect((failure as Error).cause).toBeInstanceOf(Error)
    // Answering again once the pause ends.
    await sleep(700 - (Date.now() - started))
    expect(await cache.record('key', 'after', now())).toBe('fresh')
  })
})
