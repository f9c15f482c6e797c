import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { resolveDpop } from '../options/resolve-tokens-options.js'
import { createReplayCache } from './replay-cache.js'

describe('createReplayCache (memory)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })
  const now = (): number => Math.floor(Date.now() / 1000)

  it('tells a first use from a replay, per key', () => {
    const cache = createReplayCache(resolveDpop({}, 5))
    const iat = now()
    expect(cache.record('key-a', 'jti-1', iat)).toBe('fresh')
    expect(cache.record('key-a', 'jti-1', iat)).toBe('replayed')
    expect(cache.record('key-b', 'jti-1', iat)).toBe('fresh')
    // Key and jti are kept apart: ("ab", "c") is not ("a", "bc").
    expect(cache.record('ab', 'c', iat)).toBe('fresh')
    expect(cache.record('a', 'bc', iat)).toBe('fresh')
  })

  it.each([
    // Signed 62 s ago: past maxAge (60 s), still acceptable for 3 s thanks to the tolerance.
    [
      'remembers a jti for maxAge plus clockTolerance: a replay within the tolerance',
      62,
      'replayed',
    ],
    ['forgets a jti once its proof could no longer be accepted', 70, 'fresh'],
  ] as const)('%s', async (_what, age, second) => {
    const cache = createReplayCache(resolveDpop({ maxAge: 60 }, 5))
    const iat = now() - age
    expect(cache.record('key', 'jti', iat)).toBe('fresh')
    await sleep(20)
    expect(cache.record('key', 'jti', iat)).toBe(second)
  })

  it('remembers a jti until the last millisecond its proof is accepted (whole seconds)', async () => {
    // Half a second into the last second the claim check accepts a proof of this iat.
    const second = now() + 10
    vi.useFakeTimers({ toFake: ['Date'], now: second * 1000 + 500 })
    const cache = createReplayCache(resolveDpop({ maxAge: 60 }, 5))
    const iat = second - 65
    expect(cache.record('key', 'last-second', iat)).toBe('fresh')
    await sleep(20)
    expect(cache.record('key', 'last-second', iat)).toBe('replayed')
  })

  it('never lowers the age it refuses: forgetting an older proof after a younger one lets neither back', () => {
    const cache = createReplayCache(resolveDpop({ replay: { max: 3 } }, 5))
    const start = now() - 30
    expect(cache.record('key', 'a', start + 10)).toBe('fresh')
    expect(cache.record('key', 'b', start)).toBe('fresh')
    expect(cache.record('key', 'c', start + 20)).toBe('fresh')
    // Each evicts the least recently recorded: first "a" (start + 10), then "b" (start).
    expect(cache.record('key', 'd', start + 20)).toBe('fresh')
    expect(cache.record('key', 'e', start + 20)).toBe('fresh')
    // "a" was forgotten while replayable: its replay is refused, not taken as a first use.
    expect(cache.record('key', 'a', start + 10)).toBe('forgotten')
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
