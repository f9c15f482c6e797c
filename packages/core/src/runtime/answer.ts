import type { RenderedProblem } from '../problem/index.js'

/**
 * What a step of the runtime answers for a request: `null` to go on, or the problem to send
 * (already audited). Synchronous on the hot path; a promise only where work is asynchronous (a
 * token never seen before, an async `check`, a store over the network).
 */
export type Answer = RenderedProblem | null

/** An answer now or later. */
export type Pending = Answer | Promise<Answer>

/**
 * Calls `go` when the answer is to go on, `send` with the problem otherwise, synchronously when
 * the answer is. A promise that rejects (a bug in a step) is sent as a bare 500 by `failed`.
 */
export function settle(
  answer: Pending,
  go: () => void,
  send: (problem: RenderedProblem) => void,
  failed: (err: Error) => void,
): void {
  if (answer === null) {
    go()
    return
  }
  if (!(answer instanceof Promise)) {
    send(answer)
    return
  }
  answer.then(
    (settled) => (settled === null ? go() : send(settled)),
    (err: unknown) => failed(err instanceof Error ? err : new Error(String(err))),
  )
}

/** Runs `next` after `answer` when it says go on; otherwise passes the refusal through. */
export function andThen(answer: Pending, next: () => Pending): Pending {
  if (answer === null) return next()
  if (!(answer instanceof Promise)) return answer
  return answer.then((settled) => (settled === null ? next() : settled))
}

/** How long a user callback on the request path (`isRevoked`, `check`) may take, by default. */
export const CALLBACK_TIMEOUT_MS = 1000

/**
 * Settles like `promise`, or rejects with `late()` once `ms` have passed: no await on user code
 * or the network holds a request forever. The timer does not keep the process alive.
 */
export function deadline<T>(promise: PromiseLike<T>, ms: number, late: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(late()), ms)
    timer.unref?.()
    Promise.resolve(promise).then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err instanceof Error ? err : new Error(String(err)))
      },
    )
  })
}
