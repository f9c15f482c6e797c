import type { RenderedProblem } from '../problem/index.js'
import type { Answer, Pending } from './answer.js'
import { statusProblem, type ProblemToWrite } from './node-response.js'
import type { RequestView } from './request-view.js'

/** One step of a route's flow: `null` to go on, or the refusal (already audited). */
export type Step = (view: RequestView) => Pending

/** A success body as it leaves, once projected: what egress budgets charge. */
export interface Egress {
  /** The projected value (parsed JSON for a serialized body). */
  readonly value: unknown
  /** The body as serialized, when the guard has it (a JSON string or bytes sent as such). */
  readonly text: string | undefined
}

/**
 * Charges a projected success body before it leaves (egress budgets): `null` to send it, or the
 * refusal to send instead (already audited). Synchronous with an in-memory store.
 */
export type Meter = (view: RequestView, status: number, sent: Egress) => Pending

/**
 * The denial-burst lockout of an app: `check` refuses a principal locked out before its route's
 * decision; `denied` counts an authorization denial of the decision against the principal.
 */
export interface DenialWatch {
  readonly check: Step
  denied(view: RequestView, code: string): void
}

/** The authorization denials a lockout counts: a principal reaching for what it may not have. */
export const COUNTED_DENIALS: ReadonlySet<string> = new Set([
  'PCL_INSUFFICIENT_SCOPE',
  'PCL_CALLER_NOT_ALLOWED',
  'PCL_CLAIM_MISMATCH',
  'PCL_CHECK_DENIED',
])

/**
 * What the runtime runs for a request of one route, in order, after authentication: the route's
 * decision, then what other capabilities add (the rate limit, budgets). Each adapter builds it
 * once per route; the Fastify plugins each add their step, the Express guard all of them.
 */
export interface RouteSteps {
  /** The route's guard decision (or the refusal of an unguarded route). */
  readonly decide: Step
  /** Run once the decision allows, in order. */
  readonly after: Step[]
  /** The app's denial-burst lockout, when configured: checked first, fed the denials. */
  lockout?: DenialWatch
}

function runFrom(steps: RouteSteps, view: RequestView, index: number): Pending {
  for (let i = index; i < steps.after.length; i++) {
    const answer = steps.after[i]!(view)
    if (answer === null) continue
    if (!(answer instanceof Promise)) return answer
    return answer.then((settled) => (settled === null ? runFrom(steps, view, i + 1) : settled))
  }
  return null
}

function watched(lockout: DenialWatch, view: RequestView, answer: Answer): Answer {
  if (answer !== null && answer.status === 403 && COUNTED_DENIALS.has(answer.body.code)) {
    lockout.denied(view, answer.body.code)
  }
  return answer
}

function decideThenRun(steps: RouteSteps, view: RequestView): Pending {
  const decided = steps.decide(view)
  if (decided === null) return runFrom(steps, view, 0)
  const { lockout } = steps
  if (!(decided instanceof Promise)) {
    return lockout === undefined ? decided : watched(lockout, view, decided)
  }
  return decided.then((settled) => {
    if (settled === null) return runFrom(steps, view, 0)
    return lockout === undefined ? settled : watched(lockout, view, settled)
  })
}

/** Runs a route's steps: synchronous, and allocation-free, while every step answers at once. */
export function runSteps(steps: RouteSteps, view: RequestView): Pending {
  const { lockout } = steps
  if (lockout === undefined) return decideThenRun(steps, view)
  const locked = lockout.check(view)
  if (locked === null) return decideThenRun(steps, view)
  if (!(locked instanceof Promise)) return locked
  return locked.then((settled) => (settled === null ? decideThenRun(steps, view) : settled))
}

// URLs no route serves: a problem+json 404 (`about:blank`), the same for everyone the guard lets
// that far. Frozen whole, so its wire form is formatted once (see `writeProblem`).
const NOT_FOUND = frozenProblem(statusProblem(404)) as RenderedProblem

function frozenProblem(problem: ProblemToWrite): ProblemToWrite {
  Object.freeze(problem.headers)
  Object.freeze(problem.body)
  return Object.freeze(problem)
}
const notFound = (): RenderedProblem => NOT_FOUND

/**
 * The answer to a URL no route serves, always a problem: `unknown`'s refusal (401 to anonymous
 * requests, with `unknownRoutes: 'unauthorized'`), else a problem+json 404 that the guard sends
 * itself, so no not-found handler of the application runs (none can leak fields).
 */
export function answerUnknownRoute(unknown: Step | null): (view: RequestView) => Pending {
  if (unknown === null) return notFound
  return function portcullisUnknownRoute(view) {
    const answer = unknown(view)
    if (answer === null) return NOT_FOUND
    if (!(answer instanceof Promise)) return answer
    return answer.then((settled) => settled ?? NOT_FOUND)
  }
}
