import { describe, expect, it } from 'vitest'
import { memorySetReplayStore, setKey } from './set-replay.js'

describe('memorySetReplayStore', () => {
  it('claims a key once; a released key can be claimed again', async () => {
    const store = memorySetReplayStore(10)
    const key = setKey('https://idp.test', 'j-1')
    await expect(store.claim(key, 60_000, 100)).resolves.toBe(true)
    await expect(store.claim(key, 60_000, 100)).resolves.toBe(false)
    await store.release(key)
    await expect(store.claim(key, 60_000, 100)).resolves.toBe(true)
  })

  it('scopes jtis by issuer', () => {
    expect(setKey('https://a.test', 'j')).not.toBe(setKey('https://b.test', 'j'))
    // A newline cannot make two pairs collide.
    expect(setKey('a\nb', 'c')).not.toBe(setKey('a', 'b\nc'))
  })

  it('when full, refuses every SET not newer than the newest forgotten one (fail closed)', async () => {
    const store = memorySetReplayStore(2)
    await store.claim(setKey('i', 'a'), 60_000, 100)
    await store.claim(setKey('i', 'b'), 60_000, 200)
    // Evicts 'a' (iat 100): it could be replayed, so nothing issued at or before 100 passes.
    await expect(store.claim(setKey('i', 'c'), 60_000, 150)).resolves.toBe(true)
    await expect(store.claim(setKey('i', 'a'), 60_000, 100)).resolves.toBe(false)
    await expect(store.claim(setKey('i', 'd'), 60_000, 90)).resolves.toBe(false)
    await expect(store.claim(setKey('i', 'e'), 60_000, 300)).resolves.toBe(true)
  })
})
