import type { RenderedProblem } from '@portcullis/core'
import type { RequestView } from '@portcullis/core/internal'
import type { ResponseRules } from '@portcullis/allowlist/internal'
import type { Response } from 'express'
import type { OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http'
import { sendProblem } from '../lib/express-view.js'

/** Puts a route's response rules on a response, before its handler runs. */
export type InstallResponseGuard = (view: RequestView, res: Response) => void

/** The response methods the guard stands in front of. */
const METHODS = [
  'json',
  'send',
  'end',
  'write',
  'writeHead',
  'flushHeaders',
  'redirect',
  'sendStatus',
] as const

type MethodName = (typeof METHODS)[number]

/** A response method, called on the response with its arguments. */
type Method = (this: Response, ...args: unknown[]) => unknown

/** One route guard's hold on one response. */
interface Hold {
  readonly guard: ResponseGuard
  readonly view: RequestView
  /** True while the guard calls the methods underneath: they run unchecked. */
  busy: boolean
  /** True once a body passed the allowlist: what follows is that body, transformed (gzip). */
  approved: boolean
  /** True once the guard refused the response: whatever the handler sends next is dropped. */
  refused: boolean
}

/** What a route guard does in front of each method; `down` is the method underneath. */
type ResponseGuard = Record<
  MethodName,
  (hold: Hold, res: Response, down: Method, args: unknown[]) => unknown
>

// The holds on each response, outermost guard first. A WeakMap rather than a property of the
// response: Express changes a response's prototype on every request, and adding properties to
// such an object (above all ones that shadow its prototype's methods) costs far more than a
// lookup here.
const holds = new WeakMap<object, Hold[]>()

/** Marks the methods `protect` put on an app's response prototype. */
const kDispatch = Symbol.for('portcullis.express.dispatch')

function layer(chain: readonly Hold[], index: number, name: MethodName, base: Method): Method {
  if (index < 0) return base
  const hold = chain[index]!
  const down = layer(chain, index - 1, name, base)
  return function guarded(this: Response, ...args: unknown[]) {
    return hold.guard[name](hold, this, down, args)
  }
}

/**
 * Puts the guard in front of the response methods of an app, once, at `seal`: each method of
 * `app.response` (the prototype Express gives the app's responses, its documented extension
 * point) first hands the call to the route guards holding that response, if any.
 */
export function protect(responsePrototype: object): void {
  const proto = responsePrototype as Record<MethodName, Method & { [kDispatch]?: true }>
  for (const name of METHODS) {
    const base = proto[name]
    if (base[kDispatch] === true) continue
    const dispatch = function portcullisResponse(this: Response, ...args: unknown[]) {
      const chain = holds.get(this)
      if (chain === undefined) return base.apply(this, args)
      const hold = chain[chain.length - 1]!
      const down = chain.length === 1 ? base : layer(chain, chain.length - 2, name, base)
      return hold.guard[name](hold, this, down, args)
    }
    Object.defineProperty(dispatch, kDispatch, { value: true })
    Object.defineProperty(proto, name, {
      value: dispatch,
      writable: true,
      configurable: true,
      enumerable: false,
    })
  }
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array
}

function setHeaders(res: Response, headers: OutgoingHttpHeaders | OutgoingHttpHeader[]): void {
  if (!Array.isArray(headers)) {
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined) res.setHeader(name, value)
    }
    return
  }
  // Node accepts `[[name, value], ...]` and the flat `[name, value, name, value]` form.
  if (Array.isArray(headers[0])) {
    for (const pair of headers as unknown as [string, string][]) res.setHeader(pair[0], pair[1])
    return
  }
  for (let i = 0; i + 1 < headers.length; i += 2) {
    res.setHeader(String(headers[i]), headers[i + 1] as string | string[])
  }
}

function unchecked(hold: Hold, res: Response, down: Method, args: unknown[]): unknown {
  const was = hold.busy
  hold.busy = true
  try {
    return down.apply(res, args)
  } finally {
    hold.busy = was
  }
}

/**
 * Builds the response guard of one route, once, at `seal`. Per request it holds the response so
 * that every body leaves through the allowlist:
 *
 * - `res.json`, `res.send` (objects, strings, Buffers) and `res.end` with a body are covered:
 *   the body is projected onto the allowlist of its status (error bodies onto problem+json
 *   fields), or the response is refused with 500 when it cannot be read;
 * - `res.write` (streams, `res.sendFile`, `pipe`) is refused: the guard cannot inspect a body it
 *   has not seen whole, and it never lets one out unchecked;
 * - `res.writeHead` and `res.flushHeaders` are deferred until the body is known, so a refusal can
 *   still change the status;
 * - `res.redirect` and `res.sendStatus` send what Express writes (a location, a status text).
 *
 * A route that opts out (`response: { passthrough }`, or no `response` with `requireResponse:
 * false`) leaves success bodies alone; error bodies are still held to problem+json fields.
 * Writing to the socket itself (`res.socket.write`) bypasses every HTTP framework and this guard.
 */
export function createResponseGuard(rules: ResponseRules): InstallResponseGuard {
  const { exempt } = rules

  function refuse(hold: Hold, res: Response, problem: RenderedProblem): Response {
    hold.refused = true
    // Once the status is out, this closes the connection rather than finish the response. The
    // problem goes out through the response's own `end`, this hold standing aside while it does.
    sendProblem(res, problem, (body) => {
      hold.busy = true
      try {
        res.end(body)
      } finally {
        hold.busy = false
      }
    })
    return res
  }

  /** Sends an approved body through the method underneath. */
  function approve(hold: Hold, res: Response, down: Method, args: unknown[]): unknown {
    hold.approved = true
    return unchecked(hold, res, down, args)
  }

  // What the guard does not look at: calls it makes itself, what follows an approved body, and
  // bodies it exempts.
  function passes(hold: Hold, status: number): boolean {
    return hold.busy || hold.approved || (!hold.refused && exempt(status))
  }

  function settled(hold: Hold): boolean {
    return hold.busy || hold.approved
  }

  const guard: ResponseGuard = {
    json(hold, res, down, [body]) {
      if (passes(hold, res.statusCode)) return unchecked(hold, res, down, [body])
      if (hold.refused) return res
      const outcome = rules.value(hold.view, res.statusCode, body)
      if (outcome.kind === 'refuse') return refuse(hold, res, outcome.problem)
      return approve(hold, res, down, [outcome.kind === 'replace' ? outcome.value : body])
    },

    send(hold, res, down, [body]) {
      if (passes(hold, res.statusCode)) return unchecked(hold, res, down, [body])
      if (hold.refused) return res
      if (body === undefined || body === null) return unchecked(hold, res, down, [body])
      if (typeof body !== 'string' && !isBytes(body)) {
        // Objects, numbers and booleans: Express sends them as JSON, through res.json.
        return res.json(body)
      }
      const outcome = rules.serialized(hold.view, res.statusCode, body, res.get('content-type'))
      if (outcome.kind === 'refuse') return refuse(hold, res, outcome.problem)
      if (outcome.kind === 'keep') return unchecked(hold, res, down, [body])
      return approve(hold, res, down, [outcome.body])
    },

    end(hold, res, down, args) {
      if (settled(hold)) return unchecked(hold, res, down, args)
      const [first, second, third] = args
      if (hold.refused) {
        const callback = [first, second, third].find((arg) => typeof arg === 'function')
        if (typeof callback === 'function') process.nextTick(callback)
        return res
      }
      const chunk = typeof first === 'function' ? undefined : first
      if (exempt(res.statusCode) || chunk === undefined || chunk === null) {
        return unchecked(hold, res, down, args)
      }
      if (typeof chunk !== 'string' && !isBytes(chunk)) return unchecked(hold, res, down, args)
      const encoding = typeof second === 'string' ? (second as BufferEncoding) : undefined
      const payload =
        typeof chunk === 'string' && encoding !== undefined && encoding !== 'utf8'
          ? Buffer.from(chunk, encoding)
          : chunk
      const outcome = rules.serialized(
        hold.view,
        res.statusCode,
        payload,
        res.getHeader('content-type'),
      )
      if (outcome.kind === 'refuse') return refuse(hold, res, outcome.problem)
      if (outcome.kind === 'keep') return unchecked(hold, res, down, args)
      if (res.headersSent) {
        // Flushed headers may announce the original length: a shorter body would corrupt the
        // stream, and the status cannot change any more. Close instead.
        return refuse(
          hold,
          res,
          rules.uninspectable(hold.view, 'a body after its headers were sent'),
        )
      }
      const text = outcome.body
      res.setHeader('content-length', Buffer.byteLength(text))
      const callback = [second, third].find((arg) => typeof arg === 'function')
      return approve(
        hold,
        res,
        down,
        callback === undefined ? [text, 'utf8'] : [text, 'utf8', callback],
      )
    },

    write(hold, res, down, args) {
      if (passes(hold, res.statusCode)) return unchecked(hold, res, down, args)
      // Dropped: the response was refused and answered; a stream still piping into it is drained.
      if (!hold.refused) refuse(hold, res, rules.uninspectable(hold.view, 'a stream'))
      return true
    },

    writeHead(hold, res, down, args) {
      const [status, second, third] = args as [number, unknown, unknown]
      if (passes(hold, status)) return unchecked(hold, res, down, args)
      if (hold.refused) return res
      // Kept on the response instead of sent: the body decides whether this status goes out.
      res.statusCode = status
      const headers = typeof second === 'string' ? third : second
      if (typeof second === 'string') res.statusMessage = second
      if (typeof headers === 'object' && headers !== null) {
        setHeaders(res, headers as OutgoingHttpHeaders | OutgoingHttpHeader[])
      }
      return res
    },

    flushHeaders(hold, res, down, args) {
      // Deferred until the body, unless nothing will check it.
      if (passes(hold, res.statusCode)) return unchecked(hold, res, down, args)
      return undefined
    },

    // Bodies Express writes itself (a location, a status text) hold nothing of the application's.
    redirect(hold, res, down, args) {
      return hold.refused && !settled(hold) ? undefined : approve(hold, res, down, args)
    },

    sendStatus(hold, res, down, args) {
      return hold.refused && !settled(hold) ? res : approve(hold, res, down, args)
    },
  }

  return function installResponseGuard(view, res) {
    const chain = holds.get(res)
    const hold: Hold = { guard, view, busy: false, approved: false, refused: false }
    if (chain === undefined) holds.set(res, [hold])
    else if (!chain.some((held) => held.guard === guard)) chain.push(hold)
  }
}
