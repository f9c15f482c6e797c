import type { DpopChallenge, GuardRequest, Principal } from '@portcullis/core'
import {
  writeProblem,
  type GuardLogger,
  type ProblemToWrite,
  type RequestView,
} from '@portcullis/core/internal'
import { kHolds, type Hold, type HoldSlot } from '@portcullis/allowlist/internal'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CredentialRules } from './route.js'

/**
 * The runtime's view of a request on Node's HTTP server, for a framework that hands its handlers
 * Node's request and response (Express, Connect, plain `node:http`). An adapter extends it where
 * its framework knows better (it must say what its request is, `native`): the URL as sent before a router rewrote it, the client address
 * with its proxy trust applied.
 */
export abstract class NodeView implements RequestView, HoldSlot {
  /** The response's holds (the response allowlists): kept here, see `viewOfResponse`. */
  [kHolds]: Hold[] | undefined = undefined
  readonly start = performance.now()
  principal: Principal | null = null
  authenticated = false
  dpop: DpopChallenge | undefined = undefined

  constructor(
    readonly message: IncomingMessage,
    protected readonly response: ServerResponse,
    readonly log: GuardLogger,
    private readonly rules: CredentialRules,
    public route: string | null,
  ) {}

  get method(): string {
    return this.message.method ?? 'GET'
  }

  get url(): string {
    return this.message.url ?? '/'
  }

  get ip(): string | undefined {
    return this.message.socket.remoteAddress
  }

  get requestId(): string | null {
    // Set by request-id middleware (`pino-http`, `express-request-id`).
    const id = (this.message as { id?: unknown }).id
    if (typeof id === 'string') return id
    return typeof id === 'number' ? String(id) : null
  }

  /** True if this is the view of the request `response` answers. */
  responds(response: ServerResponse): boolean {
    return this.response === response
  }

  /** The framework's request, with its `params` and `query`, for the application's callbacks. */
  abstract get native(): GuardRequest

  queryTokenAllowed(): boolean {
    return this.rules.queryToken
  }

  dpopRequired(): boolean {
    return this.rules.dpop
  }

  setHeader(name: string, value: string | number): void {
    // Node refuses a header once the response started; asking first (`headersSent`) would cost a
    // lookup on every call, and Express's responses change shape on every request.
    try {
      this.response.setHeader(name, value)
    } catch (err) {
      const { code } = err as { code?: unknown }
      // HTTP/1 and the HTTP/2 compatibility API say it each their own way.
      if (code !== 'ERR_HTTP_HEADERS_SENT' && code !== 'ERR_HTTP2_HEADERS_SENT') throw err
    }
  }

  /**
   * The view rides on its request: a request written to a log with `util.inspect` shows the route
   * and whether it was authenticated, not the principal's claims.
   */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PortcullisView { route: ${JSON.stringify(this.route)}, authenticated: ${this.authenticated} }`
  }
}

/** Makes the view of a request, for `viewOf`. */
export type MakeView = (
  message: IncomingMessage,
  response: ServerResponse,
  log: GuardLogger,
  rules: CredentialRules,
  route: string | null,
) => NodeView

/** The views of one adapter's requests, and the responses Portcullis answered itself. */
export interface NodeViews {
  /**
   * The request's view, made by the first guard to see it (its credential rules apply); later
   * guards on the same request share it, and so its principal; each sets its route.
   */
  readonly viewOf: (
    message: IncomingMessage,
    response: ServerResponse,
    log: GuardLogger,
    rules: CredentialRules,
    route: string | null,
  ) => NodeView
  /**
   * The view of the request a response answers (Node's `response.req`), where the response's
   * holds are kept: `undefined` before any guard saw the request, and for a response other than
   * the one the view was made with.
   */
  readonly viewOfResponse: (response: ServerResponse) => NodeView | undefined
  /** The principal the runtime verified for a request: `null` until then, or without a token. */
  readonly principalOf: (message: object) => Principal | null
  /** Writes a problem+json answer of Portcullis's own (a refusal, a 404, an error). */
  readonly answerProblem: (response: ServerResponse, problem: ProblemToWrite) => void
  /** True once Portcullis answered this response itself. */
  readonly isAnswered: (response: object) => boolean
}

/**
 * Views held on the requests, in a property of each adapter's own symbol. Not in a WeakMap keyed
 * by the request: a view reaches its request, and V8's young-generation collector keeps an entry
 * whose value reaches its own key, so every request since the last full collection (with its
 * response, socket buffers and parsed body) would survive each minor collection. On Express, the
 * WeakMaps here and in the response hold doubled the collector's time per request.
 */
export function nodeViews(make: MakeView): NodeViews {
  const kView = Symbol('portcullis.view')
  type Viewed = IncomingMessage & { [kView]?: NodeView }
  const answered = new WeakSet<object>()
  // The view of this very request: a copy of a request (`{ ...req }`, which copies the property)
  // or an object made from one (`Object.create(req)`) gets a view of its own, as it did when the
  // views were kept in a WeakMap, never the original's principal, URL or parameters.
  const own = (message: object): NodeView | undefined => {
    const view = (message as Viewed)[kView]
    return view !== undefined && view.message === message ? view : undefined
  }
  // The last view a guard (or the adapter's own handlers) made or found: the response methods in
  // front of which the holds stand ask for their response's view several times in a row (`json`,
  // `send`, `end`, `writeHead`), and on Express every lookup on a response is a lookup on a new
  // shape. It keeps one request alive until the next one.
  let last: NodeView | undefined
  return {
    viewOf(message, response, log, rules, route) {
      let view = own(message)
      if (view === undefined) {
        view = make(message, response, log, rules, route)
        ;(message as Viewed)[kView] = view
      } else view.route = route
      last = view
      return view
    },
    viewOfResponse(response) {
      if (last !== undefined && last.responds(response)) return last
      const message = response.req as IncomingMessage | undefined
      const view = message === undefined ? undefined : own(message)
      // The view of another response to the same request (a request handed to the app again
      // with a response of its own) is not this response's.
      return view !== undefined && view.responds(response) ? view : undefined
    },
    principalOf: (message) => own(message)?.principal ?? null,
    answerProblem(response, problem) {
      answered.add(response)
      writeProblem(response, problem)
    },
    isAnswered: (response) => answered.has(response),
  }
}
