import {
  isPortcullisConfigError,
  PortcullisConfigError,
  type RenderedProblem,
} from '@portcullis/core'
import type { InventoryEntry } from '@portcullis/policy'
import { refuseUnguarded, startupError } from '@portcullis/policy/internal'
import { principalAccessors } from '@portcullis/tokens/internal'
import type { Application, Request, Response } from 'express'
import type { ServerResponse } from 'node:http'
import type { PreparedBinding } from '../guard/guard-middleware.js'
import { answerProblem, isAdmitted, NO_RULES, principalOf, viewOf } from '../lib/express-view.js'
import { kSealed } from '../lib/symbols.js'
import { protect } from '../response/index.js'
import { errorHandler, unknownRouteHandler, type FinalContext } from './final-handlers.js'
import { isExpressApp } from './mounted-app.js'
import { walkApp } from './walk-router.js'

/** What `seal` needs besides the app. */
export type SealContext = FinalContext

type Sealable = Application & { [kSealed]?: true }

function refuseLateRoutes(stack: unknown[]): void {
  Object.defineProperty(stack, 'push', {
    configurable: true,
    value: function refuseLateRoute(): never {
      throw new PortcullisConfigError(
        'PCL_UNGUARDED_ROUTE',
        'a route or middleware was added after guard.seal(app), which has already proved every route guarded: declare everything before calling seal',
      )
    },
  })
}

/**
 * Proves every route of `app` guarded, binds each guard to its routes, then installs the last
 * middleware (unknown URLs) and error handler. Throws, changing nothing, when a guard is invalid
 * for its route (`PCL_INVALID_GUARD`) or a route has no guard first (`PCL_UNGUARDED_ROUTE`).
 * Returns the inventory rows of the app.
 */
export function sealApp(app: Application, context: SealContext): InventoryEntry[] {
  if (!isExpressApp(app)) {
    throw new PortcullisConfigError(
      'PCL_INVALID_OPTIONS',
      'guard.seal(app) needs the Express application (express()) whose routes it guards',
      { field: 'app' },
    )
  }
  const target = app as Sealable
  if (target[kSealed] === true) {
    throw new PortcullisConfigError('PCL_INVALID_OPTIONS', 'this app is already sealed', {
      field: 'app',
    })
  }
  const walked = walkApp(app)
  const errors: PortcullisConfigError[] = []
  const prepared: PreparedBinding[] = []
  for (const { handle, site } of walked.guards) {
    try {
      prepared.push(handle.prepare(site))
    } catch (err) {
      if (!isPortcullisConfigError(err)) throw err
      errors.push(err)
    }
  }
  const unguarded = [...new Set(walked.unguarded)]
  const failure = startupError(
    errors,
    unguarded.length === 0
      ? []
      : [
          new PortcullisConfigError(
            'PCL_UNGUARDED_ROUTE',
            [
              `${unguarded.length} route${unguarded.length === 1 ? ' has' : 's have'} no guard (deny by default):`,
              ...unguarded.map((route) => `  - ${route}`),
              "Put guard({...}) first in each route's handlers (guard({ public: '<reason>' }) for a route that needs no token).",
            ].join('\n'),
            { routes: unguarded.map((route) => route.replace(/ \(.*\)$/u, '')) },
          ),
        ],
  )
  // Every invalid guard and every unguarded route at once, changing nothing.
  if (failure !== undefined) throw failure
  for (const binding of prepared) binding.commit()
  const principal = principalAccessors<object>(
    principalOf,
    (_, message) => context.log.warn({}, message),
    'req.principal',
  )
  const unbound = refuseUnguarded(null, context.decision)
  let refusedOne = false
  // The run-time second line of defence: a response that no guard admitted (a middleware that
  // answers before any guard, a callback seal could not see) is refused with 403, never sent.
  const unheld = (res: ServerResponse): boolean => {
    if (isAdmitted(res)) return true
    const req = (res as ServerResponse & { req: Request }).req
    if (!refusedOne) {
      refusedOne = true
      context.log.error(
        { url: req.originalUrl },
        'portcullis: a response no guard admitted (a middleware answering before any guard) was refused with 403; put guard(...) in front of it',
      )
    }
    const view = viewOf(req, res as Response, context.log, NO_RULES, null)
    answerProblem(res as Response, unbound(view) as RenderedProblem)
    return false
  }
  for (const each of walked.apps) {
    // `app.request` and `app.response` are the prototypes Express gives the app's requests and
    // responses (its documented extension point): `req.principal` reads what the runtime
    // verified, as on Fastify, and the response allowlists stand in front of the response methods.
    const { request, response } = each as unknown as { request: object; response: object }
    if (!Object.hasOwn(request, 'principal')) {
      Object.defineProperty(request, 'principal', { ...principal, configurable: true })
    }
    protect(response, unheld)
  }
  app.use(unknownRouteHandler(context))
  app.use(errorHandler(context))
  for (const stack of walked.stacks) refuseLateRoutes(stack)
  Object.defineProperty(target, kSealed, { value: true })
  return prepared.flatMap((binding) => binding.entries)
}
