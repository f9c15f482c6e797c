import {
  PortcullisConfigError,
  isPortcullisError,
  renderProblem,
  type ResponseError,
} from '@portcullis/core'
import { routeStateOf } from '@portcullis/policy'
import { emitAudit, type DecisionContext } from '@portcullis/tokens'
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onSendHookHandler,
  preSerializationHookHandler,
  RouteOptions,
} from 'fastify'
import fp from 'fastify-plugin'
import {
  compileAllowlist,
  readSerializedBody,
  uninspectableError,
  type CompiledAllowlist,
} from '../allowlist/index.js'
import { resolveAllowlistOptions, type AllowlistPluginOptions } from './options.js'

const EMPTY_SCOPES: ReadonlySet<string> = new Set()

// Set by preSerialization when it has projected the payload (or failed to), so onSend neither
// parses the serialized result again nor lets a failed projection out.
const kProjected = Symbol.for('portcullis.allowlist.projected')
const kFailure = Symbol.for('portcullis.allowlist.failure')

type Tracked = FastifyRequest & { [kProjected]?: boolean; [kFailure]?: ResponseError }

function appendHook<T>(
  routeOptions: RouteOptions,
  name: 'preSerialization' | 'onSend',
  hook: T,
): void {
  const existing = routeOptions[name] as T | T[] | undefined
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]
  // First among the route's own hooks of this stage is not required: the allowlist must see the
  // final payload, so it goes last.
  ;(routeOptions as unknown as Record<string, T[]>)[name] = [...list, hook]
}

function portcullisAllowlist(
  fastify: FastifyInstance,
  options: AllowlistPluginOptions,
  next: (err?: Error) => void,
): void {
  let resolved
  try {
    resolved = resolveAllowlistOptions(options)
  } catch (err) {
    next(err as Error)
    return
  }
  const { requireResponse, maxBodyBytes } = resolved
  const context: DecisionContext = { realm: resolved.realm, audit: resolved.audit }
  // Error bodies of routes without an allowlist (requireResponse: false) still leave as
  // problem+json fields only.
  const errorsOnly = compileAllowlist({ allow: [] }, { route: 'error bodies' })

  fastify.addHook('onRoute', function portcullisCompileAllowlist(routeOptions) {
    const state = routeStateOf(routeOptions)
    if (state === undefined || state.compiled === null) return
    const spec = state.compiled.guard.response
    let compiled: CompiledAllowlist
    let successBodies = true
    if (spec === undefined) {
      if (requireResponse) {
        state.reportError(
          new PortcullisConfigError(
            'PCL_INVALID_GUARD',
            `${state.label}: guard.response is required: declare the fields responses may carry ({ allow: [...] }), 'schema', or { passthrough: '<reason>' }`,
            { route: state.label, field: 'guard.response' },
          ),
        )
        return
      }
      state.annotate('response', 'NONE: success bodies are not allowlisted')
      compiled = errorsOnly
      successBodies = false
    } else {
      try {
        compiled = compileAllowlist(spec, {
          route: state.label,
          scopesGranted: state.knownScopes,
          schema: (routeOptions.schema as { response?: unknown } | undefined)?.response,
        })
      } catch (err) {
        if (isPortcullisError(err) && err.kind === 'config') {
          state.reportError(err as PortcullisConfigError)
          return
        }
        throw err
      }
      state.annotate('response', compiled.summary)
    }
    const route = state.url
    const passthrough = compiled.mode === 'passthrough'

    function refuse(request: FastifyRequest, reply: FastifyReply, error: ResponseError): Buffer {
      const { status, headers, body } = renderProblem(error)
      emitAudit(request, context, 'deny', body.code, { route, status })
      reply.code(status)
      reply.removeHeader('content-length')
      reply.headers(headers)
      return Buffer.from(JSON.stringify(body))
    }

    function project(request: FastifyRequest, reply: FastifyReply, body: unknown) {
      const status = reply.statusCode
      if (!successBodies && status < 400) return { ok: true as const, value: body }
      return compiled.project(body, {
        status,
        scopes: request.principal?.scopes ?? EMPTY_SCOPES,
      })
    }

    const preSerialization: preSerializationHookHandler<unknown> = function portcullisProject(
      request,
      reply,
      payload,
      done,
    ) {
      if ((passthrough || !successBodies) && reply.statusCode < 400) {
        done(null, payload)
        return
      }
      const tracked = request as Tracked
      tracked[kProjected] = true
      const result = project(request, reply, payload)
      if (result.ok) {
        done(null, result.value)
        return
      }
      tracked[kFailure] = result.error
      done(null, null)
    }

    const onSend: onSendHookHandler<unknown> = function portcullisCheckPayload(
      request,
      reply,
      payload,
      done,
    ) {
      const tracked = request as Tracked
      const failure = tracked[kFailure]
      if (failure !== undefined) {
        done(null, refuse(request, reply, failure))
        return
      }
      if (tracked[kProjected] === true || payload === null || payload === undefined) {
        done(null, payload)
        return
      }
      // Success bodies of a passthrough route, or of a route without an allowlist (only with
      // requireResponse: false), leave as they are; error bodies never do.
      if ((passthrough || !successBodies) && reply.statusCode < 400) {
        done(null, payload)
        return
      }
      // A payload that skipped preSerialization: a JSON string or Buffer sent as is, or a stream.
      // One the guard cannot read is refused, never let out unchecked (unless passthrough).
      if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) {
        done(null, refuse(request, reply, uninspectableError('a stream')))
        return
      }
      const read = readSerializedBody(payload, reply.getHeader('content-type'), maxBodyBytes)
      if (read.kind === 'empty') {
        done(null, payload)
        return
      }
      if (read.kind === 'uninspectable') {
        done(null, refuse(request, reply, read.error))
        return
      }
      const result = project(request, reply, read.value)
      done(null, result.ok ? JSON.stringify(result.value) : refuse(request, reply, result.error))
    }

    appendHook(routeOptions, 'preSerialization', preSerialization)
    appendHook(routeOptions, 'onSend', onSend)
  })
  next()
}

/**
 * The allowlist plugin: every guarded route's responses are projected onto its declared fields
 * (objects, arrays, JSON strings and Buffers, error bodies), or refused with 500 when they
 * cannot be inspected or break the route's rules. Registered after the policy plugin.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/allowlist.md
 */
export const allowlistPlugin = fp(portcullisAllowlist, {
  fastify: '5.x',
  name: '@portcullis/allowlist',
  dependencies: ['@portcullis/policy'],
})
