import type { RenderedProblem } from '@portcullis/core'
import { writeProblem, type RequestView } from '@portcullis/core/internal'
import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { types } from 'node:util'
import type { ResponseRules, SerializedOutcome } from './response-rules.js'

/** A response method, called on the response with its arguments. */
export type ResponseMethod = (this: ServerResponse, ...args: unknown[]) => unknown

/** One route's hold on one response: its rules and where the response stands. */
export interface Hold {
  readonly rules: ResponseRules
  readonly view: RequestView
  /** True while the guard calls the methods underneath: they run unchecked. */
  busy: boolean
  /** True once a body passed the allowlist: what follows is that body, transformed (gzip). */
  approved: boolean
  /** True once the guard refused the response: whatever the handler sends next is dropped. */
  refused: boolean
}

/** What the hold does in front of one method; `down` is the method underneath. */
export type HoldStep = (
  hold: Hold,
  res: ServerResponse,
  down: ResponseMethod,
  args: unknown[],
) => unknown

/** The steps of a response prototype, by method name. */
export type HoldSteps = Readonly<Record<string, HoldStep>>

/**
 * The key of a response's holds, outermost first, on the object that keeps them: the response
 * itself, or what the adapter's `slotOf` finds for it (Express keeps them on the request's view,
 * an object of a fixed shape, rather than add a property to a response whose shape Express changes
 * on every request). A property rather than a WeakMap entry keyed by the response: a hold reaches
 * its response (through its view), and V8's young-generation collector keeps an entry whose value
 * reaches its own key, so a WeakMap would keep every response since the last full collection alive
 * through each minor one (on Express that roughly doubled the collector's time per request).
 */
export const kHolds = Symbol('portcullis.holds')

/** What keeps a response's holds (see {@link kHolds}). */
export interface HoldSlot {
  [kHolds]?: Hold[] | undefined
}

/** Marks the methods {@link protectResponses} put on a response prototype. */
const kDispatch = Symbol.for('portcullis.response.dispatch')

function layer(
  chain: readonly Hold[],
  index: number,
  step: HoldStep,
  base: ResponseMethod,
): ResponseMethod {
  if (index < 0) return base
  const hold = chain[index]!
  const down = layer(chain, index - 1, step, base)
  return function held(this: ServerResponse, ...args: unknown[]) {
    return step(hold, this, down, args)
  }
}

/** What {@link protectResponses} does with a response no hold stands on. */
export interface ProtectOptions {
  /**
   * Called when a method is called on a response no route guard held: `true` lets the call
   * through; `false` drops it, the function having answered the response itself (a refusal).
   * Absent: every such call goes through.
   */
  readonly unheld?: (res: ServerResponse) => boolean
  /**
   * Where a response's holds are kept: the slot {@link holdResponse} was given for it. Absent:
   * the response itself (which {@link holdResponse} must then be given as the slot).
   */
  readonly slotOf?: (res: ServerResponse) => HoldSlot | undefined
}

/**
 * Puts the holds in front of the methods of a response prototype, once: each method in `steps`
 * first hands the call to the holds on that response, if any, innermost last. A response nobody
 * holds costs a lookup of its slot per call.
 */
export function protectResponses(
  prototype: object,
  steps: HoldSteps,
  options: ProtectOptions = {},
): void {
  const { unheld, slotOf } = options
  const proto = prototype as Record<string, ResponseMethod & { [kDispatch]?: true }>
  for (const [name, step] of Object.entries(steps)) {
    const base = proto[name]
    if (typeof base !== 'function' || base[kDispatch] === true) continue
    /* eslint-disable prefer-rest-params */
    // `arguments` rather than a rest parameter, copied only on the paths that check the call: the
    // paths that only forward it build no array of their own.
    const dispatch = function portcullisResponse(this: ServerResponse) {
      const chain = (slotOf === undefined ? (this as HoldSlot) : slotOf(this))?.[kHolds]
      if (chain === undefined) {
        if (unheld === undefined || unheld(this)) return base.apply(this, arguments as never)
        // Refused (and answered) by `unheld`: the call is dropped.
        return name === 'write' ? true : this
      }
      const hold = chain[chain.length - 1]!
      // The hold's own calls, and whatever follows an approved body, pass unchecked.
      if (chain.length === 1 && (hold.busy || hold.approved)) {
        return base.apply(this, arguments as never)
      }
      return checked(this, chain, hold, Array.prototype.slice.call(arguments))
    }
    /* eslint-enable prefer-rest-params */
    const checked = (res: ServerResponse, chain: Hold[], hold: Hold, args: unknown[]): unknown =>
      step(hold, res, chain.length === 1 ? base : layer(chain, chain.length - 2, step, base), args)
    Object.defineProperty(dispatch, kDispatch, { value: true })
    Object.defineProperty(proto, name, {
      value: dispatch,
      writable: true,
      configurable: true,
      enumerable: false,
    })
  }
}

/**
 * Holds a response to a route's rules, before its handler runs: every body leaves through them.
 * A second hold with the same rules (the same guard met twice) is not added. The holds are kept
 * on `slot`: the response itself, or what the `slotOf` given to {@link protectResponses} finds for
 * this response.
 */
export function holdResponse(
  res: ServerResponse,
  rules: ResponseRules,
  view: RequestView,
  slot: HoldSlot,
): void {
  const chain = slot[kHolds]
  const hold: Hold = { rules, view, busy: false, approved: false, refused: false }
  if (chain === undefined) slot[kHolds] = [hold]
  else if (!chain.some((held) => held.rules === rules)) chain.push(hold)
}

/** Runs the method underneath with the hold standing aside. */
export function pass(hold: Hold, res: ServerResponse, down: ResponseMethod, args: unknown[]) {
  const was = hold.busy
  hold.busy = true
  try {
    return down.apply(res, args)
  } finally {
    hold.busy = was
  }
}

/** Sends an approved body through the method underneath: what follows is that body. */
export function approve(hold: Hold, res: ServerResponse, down: ResponseMethod, args: unknown[]) {
  hold.approved = true
  try {
    return pass(hold, res, down, args)
  } catch (err) {
    // The method refused it (an invalid status, say): no approved body went out, so what the app
    // sends next (its error handler's body) is checked as any other.
    hold.approved = false
    throw err
  }
}

/**
 * Answers the problem in place of the body; whatever the handler sends next is dropped. Once the
 * status is out, this closes the connection rather than finish the response.
 */
export function refuseHeld(hold: Hold, res: ServerResponse, problem: RenderedProblem) {
  hold.refused = true
  // The response's own `end`, through every hold: this one stands aside while it runs.
  const end: ResponseMethod = function end(this: ServerResponse, ...args: unknown[]) {
    return this.end(...(args as [Buffer]))
  }
  writeProblem(res, problem, (body) => pass(hold, res, end, [body]))
  return res
}

/**
 * Applies an outcome now, or once it settles (an egress meter on Redis): meanwhile the response
 * is held (`waiting`), and whatever the handler sends is dropped.
 */
export function later<T>(
  hold: Hold,
  res: ServerResponse,
  outcome: T | Promise<T>,
  apply: (settled: T) => unknown,
): unknown {
  if (!(outcome instanceof Promise)) return apply(outcome)
  hold.refused = true
  outcome.then(
    (settled) => {
      hold.refused = false
      apply(settled)
    },
    // A meter never rejects (store failures are answers); a bug still never lets the body out.
    () => res.destroy(),
  )
  return res
}

/** What the hold does not look at: its own calls, what follows an approved body, exempt bodies. */
export function passes(hold: Hold, status: number): boolean {
  return hold.busy || hold.approved || (!hold.refused && hold.rules.exempt(status))
}

/** True once nothing more is checked: the hold's own calls, or an approved body. */
export function settled(hold: Hold): boolean {
  return hold.busy || hold.approved
}

// Bytes from any realm (a `vm` context's Uint8Array fails `instanceof`, and Node sends it all the
// same).
function isBytes(value: unknown): value is Uint8Array {
  return types.isUint8Array(value)
}

function setHeaders(
  res: ServerResponse,
  headers: OutgoingHttpHeaders | readonly OutgoingHttpHeader[],
): void {
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

/**
 * The steps in front of Node's own response methods, the same for every framework:
 *
 * - `end` with a body: the body is projected onto the allowlist of its status (read per its
 *   `Content-Type`), or the response is refused with 500 when it cannot be read;
 * - `write` (streams, `pipe`, `sendFile`) is refused: the guard cannot inspect a body it has not
 *   seen whole, and it never lets one out unchecked;
 * - `writeHead` and `flushHeaders` are deferred until the body is known, so a refusal can still
 *   change the status.
 *
 * Writing to the socket itself (`res.socket.write`) bypasses every HTTP framework and the hold.
 */
export const nodeResponseSteps: HoldSteps = Object.freeze({
  end(hold: Hold, res: ServerResponse, down: ResponseMethod, args: unknown[]): unknown {
    if (settled(hold)) return pass(hold, res, down, args)
    const [first, second, third] = args
    if (hold.refused) {
      const callback = [first, second, third].find((arg) => typeof arg === 'function')
      if (typeof callback === 'function') process.nextTick(callback)
      return res
    }
    const { rules, view } = hold
    // No body (`end()`, `end(null)`, `end(callback)`), or one Node itself refuses: nothing leaves.
    if (rules.exempt(res.statusCode) || (typeof first !== 'string' && !isBytes(first))) {
      return pass(hold, res, down, args)
    }
    const encoding = typeof second === 'string' ? (second as BufferEncoding) : undefined
    const payload =
      typeof first === 'string' && encoding !== undefined && encoding !== 'utf8'
        ? Buffer.from(first, encoding)
        : first
    const outcome = rules.serialized(view, res.statusCode, payload, res.getHeader('content-type'))
    const apply = (settled: SerializedOutcome): unknown => {
      if (settled.kind === 'refuse') return refuseHeld(hold, res, settled.problem)
      if (settled.kind === 'keep') return pass(hold, res, down, args)
      if (res.headersSent) {
        // Flushed headers may announce the original length: a shorter body would corrupt the
        // stream, and the status cannot change any more. Close instead.
        return refuseHeld(
          hold,
          res,
          rules.uninspectable(view, 'a body after its headers were sent'),
        )
      }
      res.setHeader('content-length', Buffer.byteLength(settled.body))
      // The projected body is a string, written as UTF-8 (Node's default), whatever the original's
      // encoding; `end(body, undefined)` is `end(body)`.
      const callback = [second, third].find((arg) => typeof arg === 'function')
      return approve(hold, res, down, [settled.body, callback])
    }
    return later(hold, res, outcome, apply)
  },

  write(hold: Hold, res: ServerResponse, down: ResponseMethod, args: unknown[]): unknown {
    if (passes(hold, res.statusCode)) return pass(hold, res, down, args)
    // Dropped: the response was refused and answered; a stream still piping into it is drained.
    if (!hold.refused) refuseHeld(hold, res, hold.rules.uninspectable(hold.view, 'a stream'))
    return true
  },

  writeHead(hold: Hold, res: ServerResponse, down: ResponseMethod, args: unknown[]): unknown {
    const [status, second, third] = args as [number, unknown, unknown]
    if (passes(hold, status)) return pass(hold, res, down, args)
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

  flushHeaders(hold: Hold, res: ServerResponse, down: ResponseMethod, args: unknown[]): unknown {
    // Deferred until the body, unless nothing will check it.
    if (passes(hold, res.statusCode)) return pass(hold, res, down, args)
    return undefined
  },
})
