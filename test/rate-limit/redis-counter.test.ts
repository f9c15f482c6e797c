import { Redis } from 'ioredis'
import { describe, expect, it, vi } from 'vitest'
import type { Count, Counter } from '../../packages/rate-limit/src/store/counter.js'
import { createLimiterStore } from '../../packages/rate-limit/src/store/limiter-store.js'
import { createRedisCounter } from '../../packages/rate-limit/src/store/redis-counter.js'
import { useRedisServer } from '../fastify/sender-constraints.js'
import { runRedisTests } from './redis-server.js'

// The Redis counter and the store that owns it, on a real redis-server: counting, readiness,
// a client that does not exist yet, a stalled Redis, closing once.

const hit = (counter: Counter, key: string, max = 5): Promise<Count> =>
  new Promise((resolve, reject) => {
    counter.hit(key, 60_000, max, (err, count) =>
      count === null ? reject(err ?? new Error('no count')) : resolve(count),
    )
  })

const log = () => ({ info: vi.fn(), warn: vi.fn(), error: vi.fn() })

describe.runIf(runRedisTests)('createRedisCounter', () => {
  const { server, client } = useRedisServer()

  it('counts per key in a fixed window', async () => {
    const counter = createRedisCounter(await client(), { timeout: 500 })
    const key = `count-${Date.now()}`
    expect(await hit(counter, key)).toMatchObject({ current: 1 })
    const second = await hit(counter, key)
    expect(second.current).toBe(2)
    expect(second.ttl).toBeGreaterThan(59_000)
    expect(second.ttl).toBeLessThanOrEqual(60_000)
    expect(counter.size()).toBeNull()
  })

  it('follows the client it is given: hits fail until it exists, then count on it', async () => {
    let current: Redis | null = null
    const counter = createRedisCounter(() => current, { timeout: 500 })
    await expect(hit(counter, 'k')).rejects.toThrow(/not created yet/)
    expect(await counter.ready(50)).toBe(false)
    current = await client()
    expect(await counter.ready(50)).toBe(true)
    expect((await hit(counter, `follow-${Date.now()}`)).current).toBe(1)
  })

  it('ready waits for a connecting client, at most ms, and leaves no listener behind', async () => {
    const lazy = new Redis(server().url, { lazyConnect: true, enableOfflineQueue: false })
    lazy.on('error', () => {})
    try {
      const counter = createRedisCounter(lazy, { timeout: 500 })
      const listeners = lazy.listenerCount('ready')
      const started = Date.now()
      expect(await counter.ready(100)).toBe(false)
      expect(Date.now() - started).toBeGreaterThanOrEqual(90)
      expect(lazy.listenerCount('ready')).toBe(listeners)
      const waiting = counter.ready(2000)
      await lazy.connect()
      expect(await waiting).toBe(true)
      expect(lazy.listenerCount('ready')).toBe(listeners)
    } finally {
      lazy.disconnect()
    }
  })

  it('a stalled Redis (CLIENT PAUSE) fails the hit within the timeout, and the next ones at once', async () => {
    const counter = createRedisCounter(await client(), { timeout: 150 })
    expect(await server().send('CLIENT PAUSE 600')).toBe('+OK')
    const started = Date.now()
    await expect(hit(counter, 'stalled')).rejects.toBeInstanceOf(Error)
    expect(Date.now() - started).toBeLessThan(500)
    // While that command is unanswered, hits send nothing and fail without waiting.
    const next = Date.now()
    await expect(hit(counter, 'stalled')).rejects.toBeInstanceOf(Error)
    expect(Date.now() - next).toBeLessThan(100)
    await new Promise((resolve) => setTimeout(resolve, 650 - (Date.now() - started)))
  })

  it('a caller over the limit does not extend its window', async () => {
    const counter = createRedisCounter(await client(), { timeout: 500 })
    const key = `over-${Date.now()}`
    const first = await hit(counter, key, 1)
    await new Promise((resolve) => setTimeout(resolve, 30))
    const over = await hit(counter, key, 1)
    expect(over.current).toBe(2)
    expect(over.ttl).toBeLessThan(first.ttl)
  })

  it('passes on the error Redis answers with', async () => {
    const redis = await client()
    const key = `wrong-type-${Date.now()}`
    await redis.hset(`portcullis:rl:${key}`, 'field', 'value')
    await expect(hit(createRedisCounter(redis, { timeout: 500 }), key)).rejects.toThrow(/WRONGTYPE/)
  })

  it('close runs onClose once, however often it is called', async () => {
    const onClose = vi.fn(() => Promise.resolve())
    const counter = createRedisCounter(await client(), { timeout: 500, onClose })
    await counter.close()
    await counter.close()
    expect(onClose).toHaveBeenCalledTimes(1)
  })
})

describe.runIf(runRedisTests)('createLimiterStore', () => {
  const { server } = useRedisServer()

  it('connects an idle lazyConnect client at start, and leaves it open on close', async () => {
    const lazy = new Redis(server().url, { lazyConnect: true })
    lazy.on('error', () => {})
    try {
      const store = createLimiterStore({ redis: lazy, cache: 10, storeTimeout: 500 }, log())
      expect(store.redisClient()).toBe(lazy)
      expect(await store.start(2000)).toBe(true)
      expect(lazy.status).toBe('ready')
      await store.close()
      expect(lazy.status).toBe('ready')
    } finally {
      lazy.disconnect()
    }
  })

  it('a store made from a URL closes cleanly without having started', async () => {
    const store = createLimiterStore({ redis: server().url, cache: 10, storeTimeout: 500 }, log())
    await expect(store.close()).resolves.toBeUndefined()
  })

  it('makes a client from a URL at start, and closes it on close', async () => {
    const store = createLimiterStore({ redis: server().url, cache: 10, storeTimeout: 500 }, log())
    expect(store.redisClient()).toBeNull()
    expect(await store.start(2000)).toBe(true)
    const made = store.redisClient()
    expect(made?.status).toBe('ready')
    expect((await hit(store.counter, `url-${Date.now()}`)).current).toBe(1)
    await store.close()
    await vi.waitFor(() => expect(made?.status).toBe('end'))
  })

  it('the memory store: ready at once, no Redis client', async () => {
    const store = createLimiterStore({ redis: undefined, cache: 10, storeTimeout: 500 }, log())
    expect(store.redisClient()).toBeNull()
    expect(await store.start(0)).toBe(true)
    expect(store.counter.kind).toBe('memory')
    expect((await hit(store.counter, 'm')).current).toBe(1)
    await store.close()
    expect(store.counter.size()).toBe(0)
  })
})
