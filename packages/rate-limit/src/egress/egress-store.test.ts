import { afterEach, describe, expect, it, vi } from 'vitest'
import { countBytes, countItems } from './count-egress.js'
import { createMemoryEgressStore, hashTag, heldValue, type Balance } from './egress-store.js'

afterEach(() => {
  vi.useRealTimers()
})

function now<T>(value: T | Promise<T>): T {
  if (value instanceof Promise) throw new Error('the memory store answered later')
  return value
}

describe('memory egress store', () => {
  it('charges in a fixed window, clamped to max unless refusing', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = createMemoryEgressStore(100)
    expect(now(store.balance('k'))).toEqual({ used: 0, ttl: 0 })
    expect(now(store.charge('k', 60, 100, 1000, false))).toMatchObject({ used: 60, ttl: 1000 })
    expect(now(store.charge('k', 60, 100, 1000, true))).toMatchObject({ used: 60, refused: true })
    expect(now(store.charge('k', 60, 100, 1000, false))).toMatchObject({ used: 100 })
    vi.setSystemTime(Date.now() + 400)
    expect(now<Balance>(store.balance('k'))).toMatchObject({ used: 100, ttl: 600 })
    vi.setSystemTime(Date.now() + 600)
    expect(now(store.balance('k')).used).toBe(0)
    // A first charge over max with refuse leaves no window behind.
    expect(now(store.charge('r', 200, 100, 1000, true))).toMatchObject({ refused: true })
    expect(now(store.balance('r')).ttl).toBe(0)
  })

  it('holds a set exactly up to max: re-reads free, the value past it refused and not added', () => {
    const store = createMemoryEgressStore(100)
    expect(now(store.touch('s', ['1', '2'], 3, 1000))).toMatchObject({ allowed: true, held: 2 })
    expect(now(store.touch('s', ['2'], 3, 1000))).toMatchObject({ allowed: true, held: 2 })
    expect(now(store.touch('s', ['3', '4'], 3, 1000))).toMatchObject({ allowed: false, held: 2 })
    expect(now(store.touch('s', ['3'], 3, 1000))).toMatchObject({ allowed: true, held: 3 })
    expect(now(store.touch('s', ['5'], 3, 1000))).toMatchObject({ allowed: false, held: 3 })
  })

  it('locks a key out on the max-th denial of a window, for the cool-down', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = createMemoryEgressStore(100)
    expect(now(store.deny('p', 2, 1000, 5000))).toBe(0)
    vi.setSystemTime(Date.now() + 1000)
    // The window passed: this denial is the first of a new one.
    expect(now(store.deny('p', 2, 1000, 5000))).toBe(0)
    expect(now(store.lockedFor('p'))).toBe(0)
    expect(now(store.deny('p', 2, 1000, 5000))).toBe(5000)
    vi.setSystemTime(Date.now() + 2000)
    expect(now(store.lockedFor('p'))).toBe(3000)
    vi.setSystemTime(Date.now() + 3000)
    expect(now(store.lockedFor('p'))).toBe(0)
  })

  it('a denial while locked out (a report-only route serves it) never shortens the lockout', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = createMemoryEgressStore(100)
    expect(now(store.deny('p', 2, 1000, 10_000))).toBe(0)
    expect(now(store.deny('p', 2, 1000, 10_000))).toBe(10_000)
    // Past the denial window, inside the cool-down: counted afresh, still locked.
    vi.setSystemTime(Date.now() + 1500)
    expect(now(store.deny('p', 2, 1000, 10_000))).toBe(0)
    expect(now(store.lockedFor('p'))).toBe(8500)
    // Inside that new window: the second denial locks again, from now.
    vi.setSystemTime(Date.now() + 500)
    expect(now(store.deny('p', 2, 1000, 10_000))).toBe(10_000)
    expect(now(store.lockedFor('p'))).toBe(10_000)
    // Once the lockout and the window have passed, counting starts over.
    vi.setSystemTime(Date.now() + 10_000)
    expect(now(store.lockedFor('p'))).toBe(0)
    expect(now(store.deny('p', 2, 1000, 10_000))).toBe(0)
    vi.setSystemTime(Date.now() + 999)
    expect(now(store.deny('p', 2, 1000, 10_000))).toBe(10_000)
  })

  it('the denials that locked a key are spent: the next denial opens a new window, as on Redis', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = createMemoryEgressStore(100)
    const start = Date.now()
    expect(now(store.deny('p', 2, 1000, 100))).toBe(0)
    vi.setSystemTime(start + 900)
    expect(now(store.deny('p', 2, 1000, 100))).toBe(100)
    vi.setSystemTime(start + 950)
    expect(now(store.deny('p', 2, 1000, 100))).toBe(0)
    // Past the first window, inside the one that denial opened: the second denial locks.
    vi.setSystemTime(start + 1100)
    expect(now(store.deny('p', 2, 1000, 100))).toBe(100)
    vi.setSystemTime(start + 1600)
    expect(now(store.deny('p', 2, 1000, 100))).toBe(0)
    // 1000 ms after that denial, not after the lockout: a new window.
    vi.setSystemTime(start + 2600)
    expect(now(store.deny('p', 2, 1000, 100))).toBe(0)
  })

  it('denials after a lockout, in a window that then ends, are forgotten with it', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = createMemoryEgressStore(100)
    const start = Date.now()
    expect(now(store.deny('p', 2, 1000, 10_000))).toBe(0)
    expect(now(store.deny('p', 2, 1000, 10_000))).toBe(10_000)
    vi.setSystemTime(start + 500)
    expect(now(store.deny('p', 2, 1000, 10_000))).toBe(0)
    vi.setSystemTime(start + 1500)
    expect(now(store.deny('p', 2, 1000, 10_000))).toBe(0)
    expect(now(store.lockedFor('p'))).toBe(8500)
  })

  it('the denials of a window end with it, even when they locked nothing', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = createMemoryEgressStore(100)
    expect(now(store.deny('p', 3, 1000, 5000))).toBe(0)
    expect(now(store.deny('p', 3, 1000, 5000))).toBe(0)
    vi.setSystemTime(Date.now() + 1000)
    expect(now(store.deny('p', 3, 1000, 5000))).toBe(0)
    expect(now(store.deny('p', 3, 1000, 5000))).toBe(0)
    expect(now(store.deny('p', 3, 1000, 5000))).toBe(5000)
  })

  it('a set opens its window at its first value and forgets every value when it ends', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = createMemoryEgressStore(100)
    expect(now(store.touch('s', ['1'], 1, 1000))).toEqual({ allowed: true, held: 1, ttl: 1000 })
    vi.setSystemTime(Date.now() + 999)
    expect(now(store.touch('s', ['2'], 1, 1000))).toEqual({ allowed: false, held: 1, ttl: 1 })
    vi.setSystemTime(Date.now() + 1)
    expect(now(store.touch('s', ['2'], 1, 1000))).toEqual({ allowed: true, held: 1, ttl: 1000 })
  })

  it('a balance reads the open window only; a charge in an ended window starts a new one', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = createMemoryEgressStore(100)
    expect(now(store.charge('k', 5, 10, 1000, false))).toEqual({
      used: 5,
      ttl: 1000,
      refused: false,
    })
    vi.setSystemTime(Date.now() + 1000)
    expect(now(store.balance('k'))).toEqual({ used: 0, ttl: 0 })
    expect(now(store.charge('k', 10, 10, 1000, true))).toEqual({
      used: 10,
      ttl: 1000,
      refused: false,
    })
    expect(now(store.charge('k', 1, 10, 1000, true))).toEqual({
      used: 10,
      ttl: 1000,
      refused: true,
    })
    // Refused in an ended window: nothing charged, no window left behind.
    vi.setSystemTime(Date.now() + 1000)
    expect(now(store.charge('k', 11, 10, 1000, true))).toEqual({
      used: 0,
      ttl: 1000,
      refused: true,
    })
    expect(now(store.balance('k'))).toEqual({ used: 0, ttl: 0 })
  })

  it('counts the keys it holds, of every kind', () => {
    const store = createMemoryEgressStore(50)
    now(store.charge('b', 1, 10, 60_000, false))
    now(store.touch('s', ['v'], 10, 60_000))
    now(store.touch('t', ['v'], 10, 60_000))
    now(store.deny('l', 3, 60_000, 60_000))
    now(store.deny('m', 3, 60_000, 60_000))
    now(store.deny('n', 3, 60_000, 60_000))
    expect(store.size()).toBe(6)
  })

  it('holds at most `cache` keys of each kind, whatever the number of principals', () => {
    const store = createMemoryEgressStore(50)
    for (let i = 0; i < 10_000; i++) {
      now(store.charge(`b${i}`, 1, 10, 60_000, false))
      now(store.touch(`s${i}`, [`v${i}`], 10, 60_000))
      now(store.deny(`l${i}`, 3, 60_000, 60_000))
    }
    expect(store.size()).toBe(150)
    store.clear()
    expect(store.size()).toBe(0)
  })
})

describe('keys and values', () => {
  it('hash tags escape the braces a counting key may hold, so the tag is the whole key', () => {
    expect(hashTag('p\0iss\0alice')).toBe('{p\0iss\0alice}')
    expect(hashTag('p\0iss\0a}b{c%')).toBe('{p\0iss\0a%7db%7bc%25}')
    expect(hashTag('a}')).not.toBe(hashTag('a%7d'))
  })

  it('long values are held as their digest, short ones as themselves', () => {
    expect(heldValue('42')).toBe('42')
    const long = heldValue('x'.repeat(10_000))
    expect(long).toMatch(/^#[\w-]{43}$/u)
    expect(heldValue('x'.repeat(10_000))).toBe(long)
    expect(heldValue('y'.repeat(10_000))).not.toBe(long)
  })
})

describe('what a body counts', () => {
  it.each([
    [[1, 2, 3], null, 3],
    [{ items: [1, 2], tags: ['a'] }, null, 3],
    [{ id: 1 }, null, 1],
    [{ items: [1, 2], tags: ['a'] }, ['items'], 2],
    [{ data: { results: [1, 2, 3, 4] } }, ['data', 'results'], 4],
    [{ data: {} }, ['data', 'results'], 0],
    [{ data: { results: { id: 1 } } }, ['data', 'results'], 1],
    [[1, 2], [], 2],
    [null, null, 0],
    [undefined, ['items'], 0],
    ['text', null, 1],
    [42, null, 1],
    [false, null, 1],
    [{}, null, 1],
    [{ items: [] }, null, 0],
    [{ a: [1, 2], b: { c: [1, 2, 3] }, d: 'x' }, null, 2],
    // A path that does not lead to the array counts what is there: nothing, or one value.
    [{ data: [{ results: [1, 2] }] }, ['data', 'results'], 0],
    [{ data: null }, ['data', 'results'], 0],
    [{ data: 'x' }, ['data', 'results'], 0],
    [{ data: { results: null } }, ['data', 'results'], 0],
    [{ data: { results: 'x' } }, ['data', 'results'], 1],
    [{ data: { results: 0 } }, ['data', 'results'], 1],
    [{ items: [1] }, [], 1],
    [undefined, null, 0],
    // A path through a string reads none of its properties.
    [{ data: 'abc' }, ['data', 'length'], 0],
  ])('%j at %j counts %d items', (value, path, items) => {
    expect(countItems(value, path)).toBe(items)
  })

  it('counts bytes of the serialized body, or of the value as JSON', () => {
    expect(countBytes({ value: { a: 'é' }, text: undefined })).toBe(Buffer.byteLength('{"a":"é"}'))
    expect(countBytes({ value: null, text: '{"a":1}' })).toBe(7)
    expect(countBytes({ value: { a: 1 }, text: '' })).toBe(0)
    expect(countBytes({ value: null, text: undefined })).toBe(4)
    expect(countBytes({ value: undefined, text: undefined })).toBe(0)
  })
})
