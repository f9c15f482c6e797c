import {
  bodySummary,
  createBodyRules,
  declaredLength,
  hasBody,
  planBody,
  type BodyOutcome,
  type BodyRules,
} from '@portcullis/allowlist/internal'
import type { RenderedProblem } from '@portcullis/core'
import type { DecisionContext, RequestView } from '@portcullis/core/internal'
import type { NextFunction, Request, Response } from 'express'
import { answerProblem } from '../lib/express-view.js'
import { kGuardHandle } from '../lib/symbols.js'

/** Where a guard is bound, as the body step needs it (a `BindSite` of the guard). */
export interface BodySite {
  readonly label: string
  readonly template: string
  readonly methods: readonly string[]
  /** Express's route (its `stack` of layers), or `null` for a middleware mount. */
  readonly route: object | null
}

/** What the body step reads of `createGuard`'s options. */
export interface BodyContext {
  readonly knownScopes: ReadonlySet<string> | undefined
  readonly requireBody: boolean
  readonly decision: DecisionContext
}

/** One guard's body step, bound to one route or mount. */
export interface BoundBody {
  /** The inventory's `body` column. */
  readonly summary: string | null
  /**
   * Runs once the guard allowed the request: calls `next` when the body may go on (checked now,
   * or deferred to the first handler after the route's body parser), answers the refusal
   * otherwise.
   */
  admit(req: Request, res: Response, view: RequestView, next: NextFunction): void
  /** Puts the checkpoints after the guard in its route, once `seal` accepted the whole app. */
  commit(): void
}

/** A guard's `guard.body`, validated when `guard(...)` is called. */
export interface GuardBody {
  /** Binds it to a route; throws `PCL_INVALID_GUARD` when `requireBody` needs a rule there. */
  bind(site: BodySite, reportOnly: boolean): BoundBody
}

/** What the guard knows of a request's body while the route's handlers run. */
interface BodyState {
  readonly rules: BodyRules
  readonly view: RequestView
  /** The body last checked: a handler that replaces `req.body` has the new one checked too. */
  checked: unknown
  /** True while a body on the wire waits for a parser. */
  unparsed: boolean
  /** Bytes received so far, for a chunked body under `maxBytes`; else `null`. */
  readonly bytes: { count: number } | null
}

// In a WeakMap rather than on the request, as the views are.
const states = new WeakMap<object, BodyState>()

/** Marks the layers the body step wraps, so a route shared by two guards is wrapped once. */
const kCheckpoint = Symbol.for('portcullis.express.bodyCheckpoint')

// Express's own parsers (body-parser: express.json(), urlencoded(), text(), raw()): a body on the
// wire may reach them unparsed, and nothing else. Text and raw bodies are refused once parsed.
const PARSERS: ReadonlySet<string> = new Set([
  'jsonParser',
  'urlencodedParser',
  'textParser',
  'rawParser',
])

type Handle = ((req: Request, res: Response, next: NextFunction) => unknown) & {
  readonly [kCheckpoint]?: true
  readonly [kGuardHandle]?: unknown
}

interface Layer {
  handle: Handle
}

const NOTHING: BoundBody = Object.freeze({
  summary: null,
  admit: (_req: Request, _res: Response, _view: RequestView, next: NextFunction) => next(),
  commit: () => undefined,
})

function refuseBody(req: Request, res: Response, problem: RenderedProblem): void {
  states.delete(req)
  // Nothing after the guard sees a refused body, not even an error handler or a logger.
  req.body = undefined
  answerProblem(res, problem)
}

/**
 * Counts the bytes of a chunked body as Node's parser hands them to the request, from what it
 * buffered already: the guard runs before the route's parser reads any of it.
 */
function countBytes(req: Request): { count: number } {
  const bytes = { count: req.readableLength }
  // The request's own push (Readable.prototype.push), called with the request as `this`.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const push = req.push
  Object.defineProperty(req, 'push', {
    configurable: true,
    writable: true,
    value: function portcullisCountBody(this: Request, chunk: unknown, encoding?: BufferEncoding) {
      if (typeof chunk === 'string') bytes.count += Buffer.byteLength(chunk, encoding)
      else if (chunk instanceof Uint8Array) bytes.count += chunk.length
      return push.call(this, chunk, encoding)
    },
  })
  return bytes
}

/** Applies an outcome: the body handed on (`next`), or the refusal answered. */
function settle(
  req: Request,
  res: Response,
  outcome: BodyOutcome,
  state: BodyState | null,
  next: NextFunction,
): void {
  if (outcome.kind === 'refuse') {
    refuseBody(req, res, outcome.problem)
    return
  }
  if (outcome.kind === 'replace') req.body = outcome.body
  if (state !== null) state.checked = req.body
  next()
}

/** The checkpoint in front of one layer after the guard: the body is checked before it runs. */
function checkpoint(handle: Handle): Handle {
  const wrapped = function portcullisBodyCheckpoint(
    req: Request,
    res: Response,
    next: NextFunction,
  ) {
    const state = states.get(req)
    if (state === undefined) return handle(req, res, next)
    const body: unknown = req.body
    if (body !== undefined && body !== state.checked) {
      state.unparsed = false
      const outcome = state.rules.admit(state.view, body, state.bytes?.count ?? null)
      if (outcome.kind === 'refuse') {
        refuseBody(req, res, outcome.problem)
        return undefined
      }
      if (outcome.kind === 'replace') req.body = outcome.body
      state.checked = req.body
    } else if (state.unparsed && !PARSERS.has(handle.name)) {
      // Fail closed: this handler could read the raw stream, and no parser ran before it.
      state.unparsed = false
      const problem = state.rules.unparsed(state.view)
      if (problem !== null) {
        refuseBody(req, res, problem)
        return undefined
      }
    }
    return handle(req, res, next)
  } as Handle
  Object.defineProperty(wrapped, kCheckpoint, { value: true })
  return wrapped
}

/**
 * Validates a guard's `guard.body` when `guard(...)` is called (throws `PCL_INVALID_GUARD`), for
 * binding to each route `seal` finds the guard on.
 *
 * A body parsed before the guard (`app.use(express.json())`) is checked by the guard itself. A
 * body the route parses after the guard (`app.post('/x', guard(...), express.json(), handler)`)
 * is checked by a checkpoint in front of every later layer of the route, before the first one
 * that runs with the parsed body; a body on the wire that reaches any layer other than Express's
 * own parsers unparsed is refused (415 `PCL_BODY_UNREADABLE`), as is one a guard mounted with
 * `use` finds unparsed: nothing the guard has not read reaches a handler.
 */
export function planGuardBody(spec: unknown, label: string, context: BodyContext): GuardBody {
  const plan = planBody(spec, { label, knownScopes: context.knownScopes })
  return {
    bind(site: BodySite, reportOnly: boolean): BoundBody {
      const summary = bodySummary(plan, {
        label: site.label,
        methods: site.methods,
        requireBody: context.requireBody,
      })
      const rules = createBodyRules(plan, site.template, context.decision, reportOnly)
      if (rules === null) return summary === null ? NOTHING : { ...NOTHING, summary }
      const route = site.route as { stack?: Layer[] } | null
      const deferred = route !== null && Array.isArray(route.stack)
      return {
        summary,
        admit(req: Request, res: Response, view: RequestView, next: NextFunction): void {
          const head = rules.head(view)
          if (head !== null) {
            refuseBody(req, res, head)
            return
          }
          const body: unknown = req.body
          if (!deferred) {
            settle(req, res, rules.admit(view, body, null), null, next)
            return
          }
          const waiting = body === undefined && hasBody(req)
          const state: BodyState = {
            rules,
            view,
            checked: undefined,
            unparsed: waiting,
            bytes:
              waiting && rules.maxBytes !== null && declaredLength(req) === null
                ? countBytes(req)
                : null,
          }
          states.set(req, state)
          if (waiting) next()
          else settle(req, res, rules.admit(view, body, null), state, next)
        },
        commit(): void {
          if (!deferred) return
          let guarded = false
          for (const layer of route.stack!) {
            const handle = layer.handle
            if (handle[kGuardHandle] !== undefined) {
              guarded = true
              continue
            }
            // Error handlers (four parameters) never run with a parsed body the guard let pass.
            if (!guarded || handle[kCheckpoint] === true || handle.length > 3) continue
            layer.handle = checkpoint(handle)
          }
        },
      }
    },
  }
}
