import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createRedisGate } from './redis-gate.js'

const TIMEOUT = 100

/** A command that answers when told to, like Redis paused then woken. */
function held<T>() {
  let answer!: (value: T) => void
  let fail!: (err: unknown) => void
  const reply = new Promise<T>((resolve, reject) => {
    answer = resolve
    fail = reject
  })
  return { send: () => reply, answer, fail }
}

function outcome<T>(promise: Promise<T>) {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (err: Error) => ({ ok: false as const, message: err.message }),
  )
}

describe('createRedisGate', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('fails at once while the client is not connected, without sending', async () => {
    const client = { status: 'reconnecting' }
    const gate = createRedisGate(client, TIMEOUT)
    const send = vi.fn(() => Promise.resolve('OK'))
    expect(await outcome(gate.run(send))).toEqual({
      ok: false,
      message: 'redis connection is reconnecting',
    })
    expect(send).not.toHaveBeenCalled()
    client.status = 'ready'
    expect(await outcome(gate.run(send))).toEqual({ ok: true, value: 'OK' })
  })

  it('passes answers and errors through, as Errors, and clears its deadline', async () => {
    const gate = createRedisGate({ status: 'ready' }, TIMEOUT)
    expect(await gate.run(() => Promise.resolve(3))).toBe(3)
    await expect(gate.run(() => Promise.reject(new Error('NOSCRIPT')))).rejects.toThrow('NOSCRIPT')
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a client quirk
    const odd = outcome(gate.run(() => Promise.reject('ERR text')))
    expect(await odd).toEqual({ ok: false, message: 'ERR text' })
    const thrown = outcome(
      gate.run(() => {
        throw 'sync' // eslint-disable-line @typescript-eslint/only-throw-error -- a client quirk
      }),
    )
    expect(await thrown).toEqual({ ok: false, message: 'sync' })
    const error = new Error('closed')
    await expect(
      gate.run(() => {
        throw error
      }),
    ).rejects.toBe(error)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a command past its deadline fails; while it stays unanswered, commands fail at once, one probe per timeout', async () => {
    const gate = createRedisGate({ status: 'ready' }, TIMEOUT)
    const stuck = held<string>()
    const first = outcome(gate.run(stuck.send))
    await vi.advanceTimersByTimeAsync(TIMEOUT - 1)
    expect(vi.getTimerCount()).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(await first).toEqual({ ok: false, message: 'redis did not answer within 100 ms' })

    // Stalled: refused without sending, until a timeout has passed since the stall began.
    const send = vi.fn(() => new Promise<string>(() => undefined))
    expect(await outcome(gate.run(send))).toEqual({
      ok: false,
      message: 'redis has not answered 1 command(s) past 100 ms',
    })
    await vi.advanceTimersByTimeAsync(TIMEOUT - 1)
    expect((await outcome(gate.run(send))).ok).toBe(false)
    expect(send).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    // One probe goes out; the next command is refused again.
    const probe = outcome(gate.run(send))
    expect(send).toHaveBeenCalledTimes(1)
    expect(await outcome(gate.run(send))).toEqual({
      ok: false,
      message: 'redis has not answered 1 command(s) past 100 ms',
    })
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    expect(await probe).toEqual({ ok: false, message: 'redis did not answer within 100 ms' })
    // A timeout after the last probe went out, the next one may go.
    void outcome(gate.run(send))
    expect(send).toHaveBeenCalledTimes(2)
    expect(await outcome(gate.run(send))).toEqual({
      ok: false,
      message: 'redis has not answered 2 command(s) past 100 ms',
    })
    await vi.advanceTimersByTimeAsync(TIMEOUT)
  })

  it('a late answer ends the stall it counted; an answer in time ends every stall', async () => {
    const gate = createRedisGate({ status: 'ready' }, TIMEOUT)
    const stuck = held<string>()
    void outcome(gate.run(stuck.send))
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    expect((await outcome(gate.run(() => Promise.resolve('x')))).ok).toBe(false)
    stuck.answer('late') // Redis woke up
    await vi.advanceTimersByTimeAsync(0)
    expect(await outcome(gate.run(() => Promise.resolve('x')))).toEqual({ ok: true, value: 'x' })

    // A late error counts as an answer too.
    const again = held<string>()
    void outcome(gate.run(again.send))
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    again.fail(new Error('LOADING'))
    await vi.advanceTimersByTimeAsync(0)
    expect(await outcome(gate.run(() => Promise.resolve('y')))).toEqual({ ok: true, value: 'y' })

    // Two stalled commands, then a probe answered in time: the gate opens at once.
    const a = held<string>()
    const b = held<string>()
    void outcome(gate.run(a.send))
    void outcome(gate.run(b.send))
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    expect(await outcome(gate.run(() => Promise.resolve('probe')))).toEqual({
      ok: true,
      value: 'probe',
    })
    expect(await outcome(gate.run(() => Promise.resolve('z')))).toEqual({ ok: true, value: 'z' })
    // The stale answers arriving now change nothing: the next stall closes the gate again.
    a.answer('old')
    b.answer('old')
    await vi.advanceTimersByTimeAsync(0)
    const c = held<string>()
    void outcome(gate.run(c.send))
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    expect(await outcome(gate.run(() => Promise.resolve('v')))).toEqual({
      ok: false,
      message: 'redis has not answered 1 command(s) past 100 ms',
    })
  })

  it('a late answer of one of two stalled commands leaves the gate closed', async () => {
    const gate = createRedisGate({ status: 'ready' }, TIMEOUT)
    const a = held<string>()
    const b = held<string>()
    void outcome(gate.run(a.send))
    void outcome(gate.run(b.send))
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    a.answer('late')
    await vi.advanceTimersByTimeAsync(0)
    expect(await outcome(gate.run(() => Promise.resolve('x')))).toEqual({
      ok: false,
      message: 'redis has not answered 1 command(s) past 100 ms',
    })
  })
})
