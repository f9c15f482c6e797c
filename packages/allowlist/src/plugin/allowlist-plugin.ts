import {
  isPortcullisConfigError,
  PortcullisConfigError,
  type RenderedProblem,
} from '@portcullis/core'
import { emitAudit, problemBytes } from '@portcullis/core/internal'
import { routeStateOf } from '@portcullis/policy/internal'
import { answeredByGuard, appendRouteHook, registerOnce, viewOf } from '@portcullis/tokens/internal'
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onErrorHookHandler,
  onResponseHookHandler,
  onSendHookHandler,
  preSerializationHookHandler,
  RouteOptions,
} from 'fastify'
import fp from 'fastify-plugin'
import {
  createResponseRules,
  errorBodiesOnly,
  planResponse,
  type ResponsePlan,
  type SerializedOutcome,
} from '../runtime/response-rules.js'
import { bodyGuardHook, checkBodyHooks, planRouteBody, type BodyRoutes } from './body-hooks.js'
import { resolveAllowlistOptions, type AllowlistPluginOptions } from './options.js'

// Set by preSerialization when it has projected the payload (or refused it), so onSend neither
// parses the serialized result again nor lets a refused payload out.
const kProjected = Symbol.for('portcullis.allowlist.projected')
const kRefusal = Symbol.for('portcullis.allowlist.refusal')
// Set by onSend: the body went through the allowlist's last check.
const kChecked = Symbol.for('portcullis.allowlist.checked')
// The projected body as serialized, recorded by the first onSend hook: the last one lets it out
// only if no hook in between changed it.
const kSerialized = Symbol.for('portcullis.allowlist.serialized')
// The projected value, charged to the route's meters once onSend knows the body is final.
const kValue = Symbol.for('portcullis.allowlist.value')

type Tracked = FastifyRequest & {
  [kProjected]?: boolean
  [kRefusal]?: RenderedProblem | undefined
  [kChecked]?: boolean
  [kSerialized]?: unknown
  [kValue]?: unknown
}

/** The name of the first onSend hook of every route, which the startup check looks for. */
const RECORD_HOOK = 'portcullisRecordPayload'

const recordPayload: onSendHookHandler<unknown> = function portcullisRecordPayload(
  request,
  _reply,
  payload,
  done,
) {
  const tracked = request as Tracked
  if (tracked[kProjected] === true) tracked[kSerialized] = payload
  done(null, payload)
}

/**
 * Whether the payload of a projected body is still the one the serializer made of it: an
 * application onSend hook that ran in between may have added fields back. A payload the hooks
 * encoded (`content-encoding`, as compression sets it) is a transformation of the approved body.
 */
function unchanged(tracked: Tracked, reply: FastifyReply, payload: unknown): boolean {
  if (payload === tracked[kSerialized]) return true
  const encoding = reply.getHeader('content-encoding')
  return encoding !== undefined && encoding !== 'identity'
}

/**
 * Forgets the projection of a payload that never left: Fastify is about to send the error of a
 * later step (a serializer or a response schema that throws, an onSend hook that fails), and that
 * body is checked as it is, as an error body, not let through as the projected one.
 */
const forgetProjection: onErrorHookHandler = function portcullisForgetProjection(
  request,
  _reply,
  _error,
  done,
) {
  const tracked = request as Tracked
  tracked[kProjected] = false
  tracked[kRefusal] = undefined
  tracked[kSerialized] = undefined
  tracked[kValue] = undefined
  done()
}

/** The response hooks the allowlist added to one route's options. */
interface AppendedHooks {
  readonly routeOptions: RouteOptions
  readonly label: string
  readonly hooks: Readonly<Record<'preSerialization' | 'onSend' | 'onResponse', unknown>>
}

/**
 * Refuses to start when an application `onRoute` hook, run after Portcullis's, assigned a route's
 * hook list (the allowlist's own hooks would be gone, and the route's bodies would leave unchecked
 * while the inventory still lists its allowlist) or added a hook after the projection or the last
 * check (it would change the body they approved).
 */
function checkRouteHooks(appended: readonly AppendedHooks[]): void {
  const dropped = new Map<string, string[]>()
  for (const { routeOptions, label, hooks } of appended) {
    for (const [stage, hook] of Object.entries(hooks)) {
      const value = (routeOptions as unknown as Record<string, unknown>)[stage]
      const list: unknown[] = Array.isArray(value) ? value : [value]
      // The projection and the last check must still run last: a hook after them would change
      // the body they approved.
      const kept = stage === 'onResponse' ? list.includes(hook) : list.at(-1) === hook
      if (!kept) dropped.set(label, [...(dropped.get(label) ?? []), stage])
    }
  }
  if (dropped.size === 0) return
  throw new PortcullisConfigError(
    'PCL_UNGUARDED_ROUTE',
    [
      "an onRoute hook replaced Portcullis's response hooks on allowlisted routes, or added hooks after them, so their bodies would leave unchecked:",
      ...[...dropped].map(([label, stages]) => `  - ${stages.join(', ')} on ${label}`),
      'Register that onRoute hook before Portcullis, and have it add to routeOptions.<stage> rather than assign it.',
    ].join('\n'),
    { routes: [...dropped.keys()] },
  )
}

/** Replaces the reply's body with a refusal: its status, its headers, problem+json. */
function refusal(reply: FastifyReply, problem: RenderedProblem): Buffer {
  reply.code(problem.status)
  reply.removeHeader('content-length')
  reply.headers(problem.headers)
  return problemBytes(problem)
}

function portcullisAllowlist(
  fastify: FastifyInstance,
  options: AllowlistPluginOptions,
  next: (err?: Error) => void,
): void {
  const twice = registerOnce(fastify, '@portcullis/allowlist')
  if (twice !== null) {
    next(twice)
    return
  }
  let resolved
  try {
    resolved = resolveAllowlistOptions(options)
  } catch (err) {
    next(err as Error)
    return
  }
  const { requireResponse, requireBody, maxBodyBytes } = resolved
  // Declared, so that every request object is built with the allowlist's fields rather than
  // growing them one by one on the hot path.
  fastify.decorateRequest(kProjected, false)
  fastify.decorateRequest(kRefusal, undefined)
  fastify.decorateRequest(kChecked, false)
  fastify.decorateRequest(kSerialized, undefined)
  fastify.decorateRequest(kValue, undefined)
  const context = { realm: resolved.realm, audit: resolved.audit, telemetry: resolved.telemetry }
  // Error bodies of routes without an allowlist (requireResponse: false) still leave as
  // problem+json fields only.
  const errorsOnly = errorBodiesOnly()
  const bodyRoutes: BodyRoutes = new Set()
  // `METHOD /url` of the routes whose success bodies are projected.
  const projectedRoutes: BodyRoutes = new Set()
  // The route hooks added to each allowlisted route, checked at startup: still there.
  const appended: AppendedHooks[] = []

  fastify.addHook('onRoute', function portcullisCompileAllowlist(routeOptions) {
    const state = routeStateOf(routeOptions)
    if (state === undefined || state.compiled === null) return
    planRouteBody(routeOptions, state, requireBody, context, bodyRoutes)
    let plan: ResponsePlan
    try {
      plan = planResponse(
        state.compiled.guard.response,
        {
          label: state.label,
          requireResponse,
          knownScopes: state.knownScopes,
          schema: (routeOptions.schema as { response?: unknown } | undefined)?.response,
        },
        errorsOnly,
      )
    } catch (err) {
      if (!isPortcullisConfigError(err)) throw err
      state.reportError(err)
      return
    }
    state.annotate('response', plan.summary, plan.exposure)
    // The meters (egress budgets) the rate-limit plugin, registered before, added to the route.
    const rules = createResponseRules(plan, state.url, context, maxBodyBytes, state.takeMeters())
    for (const method of state.methods) projectedRoutes.add(`${method} ${state.url}`)

    const preSerialization: preSerializationHookHandler<unknown> = function portcullisProject(
      request,
      reply,
      payload,
      done,
    ) {
      if (rules.exempt(reply.statusCode)) {
        done(null, payload)
        return
      }
      const tracked = request as Tracked
      tracked[kProjected] = true
      // Projected now, charged to the meters (egress budgets) in onSend, once the body is final:
      // an application onSend hook in between may still change it.
      const settled = rules.project(viewOf(request, reply), reply.statusCode, payload)
      if (settled.kind === 'refuse') {
        tracked[kRefusal] = settled.problem
        done(null, null)
        return
      }
      const value = settled.kind === 'replace' ? settled.value : payload
      tracked[kValue] = value
      done(null, value)
    }

    const onSend: onSendHookHandler<unknown> = function portcullisCheckPayload(
      request,
      reply,
      payload,
      done,
    ) {
      const tracked = request as Tracked
      tracked[kChecked] = true
      const refused = tracked[kRefusal]
      if (refused !== undefined) {
        done(null, refusal(reply, refused))
        return
      }
      // A payload that skipped preSerialization (a JSON string or Buffer sent as is, or a
      // stream), or one an onSend hook changed after the projection, is checked as it is now.
      if (tracked[kProjected] === true && unchanged(tracked, reply, payload)) {
        const text = typeof payload === 'string' ? payload : undefined
        const answer = rules.charge(viewOf(request, reply), reply.statusCode, {
          value: tracked[kValue],
          text,
        })
        if (answer === null) done(null, payload)
        else if (!(answer instanceof Promise)) done(null, refusal(reply, answer))
        else {
          answer.then(
            (problem) => done(null, problem === null ? payload : refusal(reply, problem)),
            (err: Error) => done(err),
          )
        }
        return
      }
      const outcome = rules.serialized(
        viewOf(request, reply),
        reply.statusCode,
        payload,
        reply.getHeader('content-type'),
      )
      const apply = (settled: SerializedOutcome): void => {
        if (settled.kind === 'keep') done(null, payload)
        else if (settled.kind === 'replace') done(null, settled.body)
        else done(null, refusal(reply, settled.problem))
      }
      if (outcome instanceof Promise) outcome.then(apply, (err: Error) => done(err))
      else apply(outcome)
    }

    // A response that never reached onSend left through `reply.hijack()` and `reply.raw`: it
    // cannot be stopped once it is out, so it is audited (as a report of the refusal it would have
    // had) and the route is marked in the inventory.
    let flagged = false
    const onResponse: onResponseHookHandler = function portcullisUncheckedResponse(
      request,
      reply,
      done,
    ) {
      if ((request as Tracked)[kChecked] === true || answeredByGuard(request)) {
        done()
        return
      }
      const status = reply.statusCode
      if (!rules.exempt(status)) {
        const view = viewOf(request, reply)
        emitAudit(view, context, 'deny', 'PCL_RESPONSE_REJECTED', {
          route: state.url,
          status,
          reportOnly: true,
        })
        if (!flagged) {
          flagged = true
          state.annotate(
            'response',
            `${plan.summary} [UNCHECKED: reply.hijack() or reply.raw]`,
            plan.exposure,
          )
          request.log.warn(
            { route: state.url },
            'portcullis: a response left through reply.hijack() or reply.raw, past the allowlist; audited and marked in the inventory',
          )
        }
      }
      done()
    }

    // Last among the route's hooks of each stage: the allowlist must see the final payload.
    appendRouteHook(routeOptions, 'preSerialization', preSerialization)
    appendRouteHook(routeOptions, 'onSend', onSend)
    appendRouteHook(routeOptions, 'onResponse', onResponse)
    appended.push({
      routeOptions,
      label: `${state.methods.join(',')} ${state.url}`,
      hooks: { preSerialization, onSend, onResponse },
    })
  })

  // One hook for every route, added now: it runs before the preValidation hooks the application
  // adds after Portcullis; the startup check refuses the ones added before it on body routes.
  fastify.addHook('preValidation', bodyGuardHook)
  // Before every onSend hook the application adds after Portcullis; the startup check refuses
  // the ones added before it on allowlisted routes.
  fastify.addHook('onSend', recordPayload)
  fastify.addHook('onError', forgetProjection)
  fastify.addHook('onReady', function portcullisCheckBodyHooks(done) {
    try {
      checkBodyHooks(this, bodyRoutes, projectedRoutes, RECORD_HOOK)
      checkRouteHooks(appended)
      done()
    } catch (err) {
      done(err as Error)
    }
  })
  next()
}

/**
 * The allowlist plugin: every guarded route's responses are projected onto its declared fields
 * (objects, arrays, JSON strings and Buffers, error bodies), or refused with 500 when they
 * cannot be inspected or break the route's rules; request bodies are checked against
 * `guard.body` before validation and the handler. Registered after the policy plugin.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/allowlist.md
 */
export const allowlistPlugin = fp(portcullisAllowlist, {
  fastify: '5.x',
  name: '@portcullis/allowlist',
  dependencies: ['@portcullis/policy'],
})
