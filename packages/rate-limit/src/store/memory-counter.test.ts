import { describe, expect, it } from 'vitest'
import type { Count } from './counter.js'
import { createMemoryCounter } from './memory-counter.js'

function hitNow(counter: ReturnType<typeof createMemoryCounter>, key: string): Count {
  let result: Count | null = null
  counter.hit(key, 60_000, 10, (err, count) => {
    if (err !== null) throw err
    result = count
  })
  // The in-memory counter answers synchronously: no promise on the hot path.
  if (result === null) throw new Error('the memory counter did not answer synchronously')
  return result
}

describe('memory counter', () => {
  it('counts hits per key in a fixed window', () => {
    const counter = createMemoryCounter(100)
    expect(hitNow(counter, 'a')).toMatchObject({ current: 1, ttl: 60_000 })
    expect(hitNow(counter, 'a').current).toBe(2)
    expect(hitNow(counter, 'b').current).toBe(1)
  })

  it('holds at most `cache` keys, whatever the number of distinct keys driven through it', () => {
    const counter = createMemoryCounter(1000)
    for (let i = 0; i < 200_000; i++) hitNow(counter, `r\0GET /v/:id\0p\0issuer\0subject-${i}`)
    expect(counter.size()).toBeLessThanOrEqual(1000)
    // The most recent keys are the ones kept.
    expect(hitNow(counter, 'r\0GET /v/:id\0p\0issuer\0subject-199999').current).toBe(2)
    expect(hitNow(counter, 'r\0GET /v/:id\0p\0issuer\0subject-0').current).toBe(1)
  })

  it('answers hitNow with the same counts as hit, in one window per key', () => {
    const counter = createMemoryCounter(100)
    expect(counter.hitNow!('a', 60_000, 10)).toMatchObject({ current: 1, ttl: 60_000 })
    expect(hitNow(counter, 'a').current).toBe(2)
    expect(counter.hitNow!('a', 60_000, 10).current).toBe(3)
    // Each answer is read before the next hit: a later hit of another key does not change it.
    const first = counter.hitNow!('b', 60_000, 10)
    expect(first.current).toBe(1)
    expect(counter.hitNow!('a', 60_000, 10).current).toBe(4)
  })

  it('is ready at once, and close() empties the store', async () => {
    const counter = createMemoryCounter(10)
    expect(await counter.ready(0)).toBe(true)
    hitNow(counter, 'a')
    await counter.close()
    expect(counter.size()).toBe(0)
  })
})
