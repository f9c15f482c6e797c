import { isPortcullisConfigError, PortcullisConfigError } from '@portcullis/core'
import type { DecisionContext } from '@portcullis/core/internal'
import { parseRouteTree, type PrintedRoute, type RouteState } from '@portcullis/policy/internal'
import { appendRouteHook, routeConfigOf, sendProblem, viewOf } from '@portcullis/tokens/internal'
import type {
  FastifyInstance,
  FastifyRequest,
  preParsingHookHandler,
  preValidationHookHandler,
  RouteOptions,
} from 'fastify'
import { Transform } from 'node:stream'
import {
  bodySummary,
  createBodyRules,
  declaredLength,
  hasBody,
  planBody,
  type BodyRules,
} from '../runtime/body-rules.js'

/** Where a route's body step travels, in its config (Fastify copies the config into the route). */
const kBodyRules = Symbol.for('portcullis.bodyRules')

/** Name of the body guard's `preValidation` hook; the startup check looks for it. */
export const BODY_GUARD_HOOK = 'portcullisBodyGuard'

// Bytes the route's preParsing hook counted while the parser read the body.
const counted = new WeakMap<FastifyRequest, { bytes: number }>()

/**
 * The body guard's one `preValidation` hook, added where the allowlist plugin is registered (the
 * root, with `@portcullis/fastify`): it runs once the body is parsed, before every
 * `preValidation` hook the application adds after Portcullis (at the root, in child contexts or
 * on the route), before schema validation, `preHandler` hooks and the handler. A refused body is
 * cleared from the request, so no later hook (`onSend`, `onResponse`) sees it either.
 */
export const bodyGuardHook: preValidationHookHandler = function portcullisBodyGuard(
  request,
  reply,
  done,
) {
  const rules = routeConfigOf(request)[kBodyRules] as BodyRules | undefined
  if (rules === undefined) {
    done()
    return
  }
  const outcome = rules.admit(
    viewOf(request, reply),
    request.body,
    counted.get(request)?.bytes ?? null,
  )
  if (outcome.kind === 'keep') done()
  else if (outcome.kind === 'replace') {
    request.body = outcome.body
    done()
  } else {
    request.body = undefined
    sendProblem(reply, outcome.problem)
  }
}

/**
 * Counts the bytes the content-type parser reads (after the application's own `preParsing`
 * hooks, a decompression for instance: route hooks run last), for `maxBytes` on bodies that
 * declare no length.
 */
const countBody: preParsingHookHandler = function portcullisCountBody(
  request,
  _reply,
  payload,
  done,
) {
  // A body without a declared length is counted too (a stream without Transfer-Encoding, as
  // `inject` sends): only a declared empty one is not.
  if (!hasBody(request.raw) && declaredLength(request.raw) !== null) {
    done(null, payload)
    return
  }
  const count = { bytes: 0 }
  counted.set(request, count)
  const counter = new Transform({
    transform(chunk: Buffer | string, _encoding, next) {
      count.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length
      next(null, chunk)
    },
  })
  // Fastify compares the body's length with Content-Length through this, when a decompressing
  // stream sets it.
  Object.defineProperty(counter, 'receivedEncodedLength', {
    get: () => (payload as { receivedEncodedLength?: number }).receivedEncodedLength,
  })
  payload.on('error', (err) => counter.destroy(err))
  payload.pipe(counter)
  done(null, counter)
}

/** The routes with a body rule, by `METHOD url`, for the startup check. */
export type BodyRoutes = Set<string>

/**
 * Plans a route's `guard.body` in the allowlist plugin's `onRoute` hook: the inventory's `body`
 * column, and for a route with a rule, its steps: the headers checked in the guard's own
 * `onRequest` step (multipart, `Content-Length` over `maxBytes`), the body in
 * {@link bodyGuardHook}. A configuration error is reported with the app's other ones.
 */
export function planRouteBody(
  routeOptions: RouteOptions,
  state: RouteState,
  requireBody: boolean,
  context: DecisionContext,
  routes: BodyRoutes,
): void {
  const compiled = state.compiled
  if (compiled === null) return
  let rules: BodyRules | null
  try {
    const plan = planBody(compiled.guard.body, {
      label: state.label,
      knownScopes: state.knownScopes,
    })
    const summary = bodySummary(plan, { label: state.label, methods: state.methods, requireBody })
    if (summary !== null) state.annotate('body', summary)
    rules = createBodyRules(plan, state.url, context, compiled.reportOnly)
  } catch (err) {
    if (!isPortcullisConfigError(err)) throw err
    state.reportError(err)
    return
  }
  if (rules === null) return
  const bodyRules = rules
  state.addStep(function portcullisBodyHead(view) {
    return bodyRules.head(view)
  })
  if (bodyRules.maxBytes !== null) appendRouteHook(routeOptions, 'preParsing', countBody)
  routeOptions.config = {
    ...(routeOptions.config as object | undefined),
    [kBodyRules]: bodyRules,
  } as NonNullable<typeof routeOptions.config>
  for (const method of state.methods) routes.add(`${method} ${state.url}`)
}

/** Application hooks of one stage that run before Portcullis's, by hook list, with their routes. */
function hooksBefore(
  printed: readonly PrintedRoute[],
  stage: 'preValidation' | 'onSend',
  ours: string,
  routes: BodyRoutes,
): Map<string, string[]> {
  const early = new Map<string, string[]>()
  for (const route of printed) {
    const labels = route.methods
      .map((method) => `${method} ${route.url}`)
      .filter((label) => routes.has(label))
    if (labels.length === 0) continue
    const at = route[stage].indexOf(ours)
    const before = at < 0 ? [`(${ours} is missing)`] : route[stage].slice(0, at)
    if (before.length === 0) continue
    const hooks = [...new Set(before)].map((name) => `${name}()`).join(', ')
    early.set(hooks, [...(early.get(hooks) ?? []), ...labels])
  }
  return early
}

/**
 * Refuses application hooks that run before Portcullis's on the routes it checks (they were
 * added before Portcullis was registered): a `preValidation` hook on a route with a body rule
 * could read or act on a body nobody checked yet; an `onSend` hook on an allowlisted route could
 * change the serialized body before Portcullis records it. Hooks added after Portcullis run
 * after its own and are fine.
 */
export function checkBodyHooks(
  fastify: FastifyInstance,
  routes: BodyRoutes,
  projected: BodyRoutes,
  recordHook: string,
): void {
  if (routes.size === 0 && projected.size === 0) return
  const printed = fastify.printRoutes({
    commonPrefix: false,
    includeMeta: ['preValidation', 'onSend'],
  })
  const { routes: printedRoutes, unparsed } = parseRouteTree(printed)
  if (unparsed.length > 0) {
    throw new PortcullisConfigError(
      'PCL_UNGUARDED_ROUTE',
      `portcullis could not read the route table, so it cannot prove every request and response body is checked (unexpected lines: ${unparsed.slice(0, 3).join(' | ')})`,
    )
  }
  const body = hooksBefore(printedRoutes, 'preValidation', BODY_GUARD_HOOK, routes)
  const send = hooksBefore(printedRoutes, 'onSend', recordHook, projected)
  if (body.size === 0 && send.size === 0) return
  const lines = (early: Map<string, string[]>) =>
    [...early].map(([hooks, on]) => `  - ${hooks} on ${on.join(', ')}`)
  throw new PortcullisConfigError(
    'PCL_UNGUARDED_ROUTE',
    [
      ...(body.size === 0
        ? []
        : [
            'preValidation hooks run before the Portcullis body guard, so they could read or act on a request body it has not checked:',
            ...lines(body),
          ]),
      ...(send.size === 0
        ? []
        : [
            'onSend hooks run before Portcullis records the projected response body, so they could add fields it would not see:',
            ...lines(send),
          ]),
      'Register Portcullis (await app.register(...)) before the plugins and hooks that add them.',
    ].join('\n'),
    { routes: [...new Set([...body.values(), ...send.values()].flat())] },
  )
}
