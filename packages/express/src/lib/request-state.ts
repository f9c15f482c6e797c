import type { DpopChallenge } from '@portcullis/core'

/** What the guard keeps about a request while it runs. */
export interface RequestState {
  /** When the first guard saw the request (`performance.now()`), for audit latency. */
  readonly start: number
  /** True once the request's credentials were read and verified: later guards reuse them. */
  authenticated: boolean
  /**
   * The DPoP challenge (RFC 9449 §7.1) for refusals after authentication, when the request used
   * DPoP or its route requires it; `undefined` keeps the plain Bearer challenge.
   */
  dpop: DpopChallenge | undefined
}

// In a WeakMap rather than on the request: Express changes a request's prototype on every
// request, and adding properties to such an object costs more than a lookup here.
const states = new WeakMap<object, RequestState>()

/** The request's state, created (and its clock started) by the first guard to see it. */
export function requestState(req: object): RequestState {
  let state = states.get(req)
  if (state === undefined) {
    state = { start: performance.now(), authenticated: false, dpop: undefined }
    states.set(req, state)
  }
  return state
}

/** The DPoP challenge for refusing the request, if authentication found one (see RequestState). */
export function dpopChallengeOf(req: object): DpopChallenge | undefined {
  return states.get(req)?.dpop
}

/** Milliseconds the guard has spent on the request so far (0 before any guard saw it). */
export function elapsed(req: object): number {
  const state = states.get(req)
  return state === undefined ? 0 : performance.now() - state.start
}
