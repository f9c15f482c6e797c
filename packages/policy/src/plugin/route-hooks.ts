import type { RenderedProblem } from '@portcullis/core'
import {
  problemBytes,
  statusProblem,
  type Pending,
  type RequestView,
} from '@portcullis/core/internal'
import { finish, keepRefusal, routeConfigOf, viewOf } from '@portcullis/tokens/internal'
import type { onRequestHookHandler, onSendHookHandler } from 'fastify'
import type { Decide } from '../runtime/route-decision.js'

export type { ReportOnlySettings } from '../guard/index.js'

/** Name of the guard's `onRequest` hook; the startup checks look for it on every route. */
export const ROUTE_GUARD_HOOK = 'portcullisRouteGuard'

/** The `onRequest` hooks of Portcullis that may run before the guard: they answer nothing else. */
export const PORTCULLIS_HOOKS: ReadonlySet<string> = new Set(['portcullisAuthenticate'])

/** Where a route's steps travel, in its config: Fastify copies the config into the route. */
export const kRouteSteps = Symbol.for('portcullis.routeSteps')

/** A step after the route's decision (the rate limit): `null` to go on, or the refusal. */
export type Step = (view: RequestView) => Pending

/** What the guard runs for a request of one route, in order. */
export interface RouteSteps {
  /** The route's guard decision (or the refusal of an unguarded route). */
  readonly decide: Decide
  /** What later plugins add (the rate limit), run once the decision allows. */
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

/**
 * The guard's one `onRequest` hook, added where the policy plugin is registered (the root, with
 * `@portcullis/fastify`), so it runs before every hook the application adds after Portcullis:
 * no application hook can answer a request the guard has not decided. It runs the matched route's
 * steps (its decision, then its rate limit); a route the policy plugin never compiled (declared
 * before it) is refused; URLs no route serves get `unknown` (401 to anonymous requests), or go on
 * to Fastify's 404 when it is `null`.
 */
export function routeGuardHook(unknown: Decide | null, unbound: Decide): onRequestHookHandler {
  return function portcullisRouteGuard(request, reply, done) {
    const view = viewOf(request, reply)
    if (request.is404) {
      if (unknown === null) done()
      else finish(unknown(view), reply, done)
      return
    }
    const steps = routeConfigOf(request)[kRouteSteps] as RouteSteps | undefined
    finish(steps === undefined ? unbound(view) : runSteps(steps, view), reply, done)
  }
}

/**
 * Last among a route's `onSend` hooks: a request the guard refused leaves refused, whatever an
 * application `onSend` hook did to its status or body in between.
 */
export const keepDenialHook: onSendHookHandler<unknown> = function portcullisKeepDenial(
  request,
  reply,
  payload,
  done,
) {
  done(null, keepRefusal(request, reply) ?? payload)
}

const NOT_FOUND = statusProblem(404) as RenderedProblem
const NOT_FOUND_BODY = problemBytes(NOT_FOUND)

/**
 * URLs no route serves answer a problem+json 404, whoever asks and whatever the not-found handler
 * put in its body: a custom `setNotFoundHandler` cannot leak fields through it. The guard's own
 * refusals (401 to anonymous requests) stay as they are.
 */
export const notFoundHook: onSendHookHandler<unknown> = function portcullisNotFound(
  request,
  reply,
  payload,
  done,
) {
  if (!request.is404) {
    done(null, payload)
    return
  }
  const kept = keepRefusal(request, reply)
  if (kept !== null) {
    done(null, kept)
    return
  }
  const stream = payload as { destroy?: unknown } | null
  if (typeof stream?.destroy === 'function') (stream.destroy as () => void).call(payload)
  reply.code(404)
  reply.removeHeader('content-length')
  reply.headers(NOT_FOUND.headers)
  done(null, NOT_FOUND_BODY)
}
