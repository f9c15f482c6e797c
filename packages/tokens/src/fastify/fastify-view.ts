import type { DpopChallenge, GuardRequest, Principal } from '@portcullis/core'
import {
  settle,
  writeProblem,
  type GuardLogger,
  type Pending,
  type RequestView,
} from '@portcullis/core/internal'
import { PortcullisConfigError, type RenderedProblem } from '@portcullis/core'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import type { IncomingMessage } from 'node:http'

/** Where a Fastify request keeps its view: set by the first Portcullis hook to see it. */
export const kView = Symbol.for('portcullis.view')

type Viewed = FastifyRequest & { [kView]?: FastifyView | null }

interface RouteGuardFlags {
  readonly queryToken?: unknown
  readonly dpop?: unknown
}

/**
 * Whether any route of the app declares `guard.queryToken` or `guard.dpop`: until one does,
 * requests skip reading their route's options (a getter that builds an object) to find out.
 */
export interface FlagUse {
  used: boolean
}

const ALWAYS: FlagUse = Object.freeze({ used: true })

/**
 * The runtime's view of a Fastify request: what the steps read, translated on demand, and what
 * they keep about the request. One object per request.
 */
class FastifyView implements RequestView {
  readonly start = performance.now()
  principal: Principal | null = null
  authenticated = false
  dpop: DpopChallenge | undefined = undefined
  /** True once the guard answered the request itself (a refusal, a 404), past every hook. */
  answered = false
  private template: string | null | undefined
  private guardFlags: RouteGuardFlags | null | undefined

  constructor(
    private readonly request: FastifyRequest,
    private readonly reply: FastifyReply,
    private readonly flagUse: FlagUse,
  ) {}

  get method(): string {
    return this.request.method
  }

  get route(): string | null {
    if (this.template === undefined) {
      this.template = this.request.is404 ? null : (this.request.routeOptions.url ?? null)
    }
    return this.template
  }

  get message(): IncomingMessage {
    return this.request.raw
  }

  get url(): string {
    return this.request.raw.url ?? '/'
  }

  get ip(): string | undefined {
    return this.request.ip
  }

  get requestId(): string | null {
    const id = this.request.id as unknown
    if (typeof id === 'string') return id
    return typeof id === 'number' ? String(id) : null
  }

  get log(): GuardLogger {
    return this.request.log
  }

  get native(): GuardRequest {
    return this.request
  }

  private flags(): RouteGuardFlags | null {
    if (this.guardFlags === undefined) {
      this.guardFlags =
        !this.flagUse.used || this.request.is404
          ? null
          : ((this.request.routeOptions.config as { guard?: RouteGuardFlags }).guard ?? null)
    }
    return this.guardFlags
  }

  queryTokenAllowed(): boolean {
    return this.flags()?.queryToken === true
  }

  dpopRequired(): boolean {
    return this.flags()?.dpop === true
  }

  setHeader(name: string, value: string | number): void {
    if (!this.reply.sent) this.reply.header(name, value)
  }
}

/**
 * The view of a Fastify request, created by the first Portcullis hook to ask. `request.principal`
 * is a copy of what the runtime verified, refreshed by each Portcullis hook: the steps never read
 * it.
 */
export function viewOf(
  request: FastifyRequest,
  reply: FastifyReply,
  flagUse: FlagUse = ALWAYS,
): RequestView {
  const viewed = request as Viewed
  let view = viewed[kView]
  if (view === undefined || view === null) {
    view = new FastifyView(request, reply, flagUse)
    viewed[kView] = view
  }
  return view
}

/** The principal the runtime verified for a request: `null` until then, or without a token. */
export function principalOf(request: FastifyRequest): Principal | null {
  return (request as Viewed)[kView]?.principal ?? null
}

/**
 * Ends a Fastify hook with the runtime's answer: `done()` to go on, the problem sent otherwise.
 * The synchronous answers (the warm path) allocate nothing.
 */
export function finish(answer: Pending, reply: FastifyReply, done: (err?: Error) => void): void {
  if (answer === null) done()
  else if (!(answer instanceof Promise)) sendProblem(reply, answer)
  else settle(answer, done, (problem) => sendProblem(reply, problem), done)
}

/**
 * Sends a refusal straight to the client, bypassing the app's error handler so that no handler
 * can turn a guard decision into a stack trace.
 */
export function sendProblem(reply: FastifyReply, problem: RenderedProblem): void {
  // Written on Node's response, the reply hijacked: no application hook (onSend, a serializer)
  // runs on a refusal, so none can turn it into a success or add to its body. Fastify still
  // logs the response and runs onResponse hooks. Headers set on the reply so far (the rate-limit
  // headers) go out with it.
  const view = (reply.request as Viewed)[kView]
  if (view !== undefined && view !== null) view.answered = true
  reply.hijack()
  writeProblem(reply.raw, problem, undefined, reply.getHeaders())
}

/** True when the guard answered the request itself (a refusal, a 404) instead of the route. */
export function answeredByGuard(request: FastifyRequest): boolean {
  return (request as Viewed)[kView]?.answered === true
}

/**
 * Marks a Portcullis plugin registered on `fastify`, or answers the error of a second
 * registration in the same app (or in a child context of it): every check would run twice, and
 * Fastify would otherwise crash the process with an uncatchable `FST_ERR_DEC_ALREADY_PRESENT`.
 */
export function registerOnce(fastify: FastifyInstance, name: string): PortcullisConfigError | null {
  const key = Symbol.for(`portcullis.registered ${name}`)
  if (fastify.hasDecorator(key)) {
    return new PortcullisConfigError(
      'PCL_INVALID_OPTIONS',
      `${name} is already registered in this app: register Portcullis once, at the root, before declaring routes`,
      { field: name },
    )
  }
  fastify.decorate(key, true)
  return null
}

// Fastify keeps a request's route context under a symbol of its own (`kRouteContext`); its
// public `request.routeOptions` getter builds and freezes a new object on every call. Found once,
// by its description; when a Fastify release renames it, the public getter answers instead.
let kRouteContext: symbol | null | undefined

/**
 * The config of the route a request matched (`routeOptions.config`, with the `url` and `method`
 * Fastify adds), the same object for every request of that route.
 */
export function routeConfigOf(request: FastifyRequest): Readonly<Record<PropertyKey, unknown>> {
  if (kRouteContext === undefined) {
    kRouteContext =
      Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ?? null
  }
  if (kRouteContext !== null) {
    const context = (request as unknown as Record<symbol, { config?: unknown } | undefined>)[
      kRouteContext
    ]
    const config = context?.config
    if (typeof config === 'object' && config !== null) return config as Record<PropertyKey, unknown>
  }
  return (request.routeOptions.config ?? {}) as unknown as Record<PropertyKey, unknown>
}

/** The route hooks a Portcullis plugin adds from its `onRoute` hook. */
export type RouteHookName = 'onError' | 'preParsing' | 'preSerialization' | 'onSend' | 'onResponse'

/**
 * Adds `hook` last among a route's hooks of one stage (a new array: the HEAD route Fastify adds
 * for a GET starts from the same options). Route hooks run after every context hook of their
 * stage, so the last one sees the final payload.
 */
export function appendRouteHook(
  routeOptions: RouteOptions,
  name: RouteHookName,
  hook: unknown,
): void {
  const existing = routeOptions[name] as unknown
  const list: unknown[] =
    existing === undefined ? [] : Array.isArray(existing) ? (existing as unknown[]) : [existing]
  ;(routeOptions as unknown as Record<string, unknown[]>)[name] = [...list, hook]
}
