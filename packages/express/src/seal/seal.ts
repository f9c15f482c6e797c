import {
  isPortcullisConfigError,
  PortcullisConfigError,
  type RenderedProblem,
} from '@portcullis/core'
import type { InventoryEntry } from '@portcullis/policy'
import { NO_RULES, sealError, type GuardRuntime } from '@portcullis/runtime'
import { principalAccessors } from '@portcullis/tokens/internal'
import type { Application, Request } from 'express'
import type { ServerResponse } from 'node:http'
import type { PreparedBinding } from '../guard/guard-middleware.js'
import { answerProblem, isAnswered, principalOf, viewOf } from '../lib/express-view.js'
import { kSealed } from '../lib/symbols.js'
import { protect } from '../response/index.js'
import { errorHandler, unknownRouteHandler } from './final-handlers.js'
import { isExpressApp } from './mounted-app.js'
import { walkApp } from './walk-router.js'

type Sealable = Application & { [kSealed]?: true }

// What `seal` proved cannot change after it: `method` of `target` throws from then on.
function refuseAfterSeal(target: object, method: string, message: string): void {
  Object.defineProperty(target, method, {
    configurable: true,
    value: function refusedAfterSeal(): never {
      throw new PortcullisConfigError('PCL_UNGUARDED_ROUTE', message)
    },
  })
}

const LATE_ROUTE =
  'a route or middleware was added after guard.seal(app), which has already proved every route guarded: declare everything before calling seal'
// `router.param(name, fn)`, and `app.param`, which calls it: its callback would run before the
// route's guard, which seal refuses when it finds one.
const LATE_PARAM =
  'app.param or router.param after guard.seal(app): its callback would run before the route guard; load the object in the handler, or in a middleware after guard(...)'

/**
 * Proves every route of `app` guarded, binds each guard to its routes, then installs the last
 * middleware (unknown URLs) and error handler. Throws, changing nothing, when a guard is invalid
 * for its route (`PCL_INVALID_GUARD`) or a route has no guard first (`PCL_UNGUARDED_ROUTE`).
 * Returns the inventory rows of the app.
 */
export function sealApp(app: Application, runtime: GuardRuntime): InventoryEntry[] {
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
  const failure = sealError(errors, walked.unguarded)
  // Every invalid guard and every unguarded route at once, changing nothing.
  if (failure !== undefined) throw failure
  for (const binding of prepared) binding.commit()
  const principal = principalAccessors<object>(
    principalOf,
    (_, message) => runtime.log.warn({}, message),
    'req.principal',
  )
  let refusedOne = false
  // The run-time second line of defence: a response that no guard admitted (a middleware that
  // answers before any guard, a callback seal could not see) is refused with 403, never sent.
  const unheld = (res: ServerResponse): boolean => {
    if (isAnswered(res)) return true
    const req = (res as ServerResponse & { req: Request }).req
    if (!refusedOne) {
      refusedOne = true
      runtime.log.error(
        { url: req.originalUrl },
        'portcullis: a response no guard admitted (a middleware answering before any guard) was refused with 403; put guard(...) in front of it',
      )
    }
    // Nothing it set goes out either: a router's automatic OPTIONS answer sets `Allow` (which
    // would list an unguarded route's methods), an error handler a debugging header.
    if (!res.headersSent) for (const name of res.getHeaderNames()) res.removeHeader(name)
    const view = viewOf(req, res, runtime.log, NO_RULES, null)
    answerProblem(res, runtime.unbound(view) as RenderedProblem)
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
  app.use(unknownRouteHandler(runtime))
  app.use(errorHandler(runtime))
  for (const stack of walked.stacks) refuseAfterSeal(stack, 'push', LATE_ROUTE)
  for (const router of walked.routers) refuseAfterSeal(router, 'param', LATE_PARAM)
  Object.defineProperty(target, kSealed, { value: true })
  return prepared.flatMap((binding) => binding.entries)
}
