import { describe, expect, it } from 'vitest'
import { resolveDpop } from '../options/resolve-tokens-options.js'
import { createReplayCache } from './replay-cache.js'

describe('createReplayCache (memory)', () => {
  const now = (): number => Math.floor(Date.now() / 1000)

  it('tells a first use from a replay, per key', () => {
    const cache = createReplayCache(resolveDpop({}, 5))
    const iat = now()
    expect(cache.record('key-a', 'jti-1', iat)).toBe('fresh')
    expect(cache.record('key-a', 'jti-1', iat)).toBe('replayed')
    expect(cache.record('key-b', 'jti-1', iat)).toBe('fresh')
  })

  it('when full, refuses every proof as old as the ones it forgot: no replay slips through', () => {
    const cache = createReplayCache(resolveDpop({ replay: { max: 1000 } }, 5))
    const start = now() - 50
    // 1000 proofs fill the cache; each later one evicts the oldest, still replayable.
    for (let i = 0; i < 1000; i++) void cache.record('key', `jti-${i}`, start)
    for (let i = 0; i < 10; i++) expect(cache.record('key', `new-${i}`, start + 10)).toBe('fresh')
    // jti-0 was forgotten: its replay is refused, as is any proof from that time.
    expect(cache.record('key', 'jti-0', start)).toBe('forgotten')
    expect(cache.record('key', 'another', start)).toBe('forgotten')
    // Younger proofs are still accepted, and remembered.
    expect(cache.record('key', 'fresh-1', now())).toBe('fresh')
    expect(cache.record('key', 'fresh-1', now())).toBe('replayed')
  })
})
