import type { RenderedProblem } from '../problem/index.js'
import type { Pending } from './answer.js'
import { statusProblem } from './node-response.js'
import type { RequestView } from './request-view.js'

/** One step of a route's flow: `null` to go on, or the refusal (already audited). */
export type Step = (view: RequestView) => Pending

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

/** Runs a route's steps: synchronous, and allocation-free, while every step answers at once. */
export function runSteps(steps: RouteSteps, view: RequestView): Pending {
  const decided = steps.decide(view)
  if (decided === null) return runFrom(steps, view, 0)
  if (!(decided instanceof Promise)) return decided
  return decided.then((settled) => (settled === null ? runFrom(steps, view, 0) : settled))
}

// URLs no route serves: a problem+json 404 (`about:blank`), the same for everyone the guard lets
// that far.
const NOT_FOUND = statusProblem(404) as RenderedProblem
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
