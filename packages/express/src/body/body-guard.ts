import type { BodyRules } from '@portcullis/allowlist/internal'
import type { RenderedProblem } from '@portcullis/core'
import type { RequestView } from '@portcullis/core/internal'
import { admitBody, type PendingBody } from '@portcullis/runtime'
import type { NextFunction, Request, Response } from 'express'
import { answerProblem } from '../lib/express-view.js'
import { isBodyParser, kGuardHandle } from '../lib/symbols.js'

/** One guard's body step, bound to one route or mount. */
export interface BodyStep {
  /**
   * Runs once the guard allowed the request: calls `next` when the body may go on (checked now,
   * or held for the checkpoints after the guard), answers the refusal otherwise.
   */
  admit(req: Request, res: Response, view: RequestView, next: NextFunction): void
  /** Puts the checkpoints after the guard in its route, once `seal` accepted the whole app. */
  commit(): void
}

// The body the route's handlers after the guard parse, on the request (as the view is): not in a
// WeakMap keyed by the request, since the pending body reaches the request through its view
// (see `nodeViews`).
const kPending = Symbol('portcullis.express.pendingBody')

type Pending = Request & { [kPending]?: PendingBody | undefined }

/** Marks the layers the body step wraps, so a route shared by two guards is wrapped once. */
const kCheckpoint = Symbol.for('portcullis.express.bodyCheckpoint')

type Handle = ((req: Request, res: Response, next: NextFunction) => unknown) & {
  readonly [kCheckpoint]?: true
  readonly [kGuardHandle]?: unknown
}

const NOTHING: BodyStep = Object.freeze({
  admit: (_req: Request, _res: Response, _view: RequestView, next: NextFunction) => next(),
  commit: () => undefined,
})

function refuse(req: Request, res: Response, problem: RenderedProblem): void {
  ;(req as Pending)[kPending] = undefined
  // Nothing after the guard sees a refused body, not even an error handler or a logger.
  req.body = undefined
  answerProblem(res, problem)
}

/** The checkpoint in front of one layer after the guard: the body is checked before it runs. */
function checkpoint(handle: Handle): Handle {
  const wrapped = function portcullisBodyCheckpoint(
    req: Request,
    res: Response,
    next: NextFunction,
  ) {
    const body = (req as Pending)[kPending]
    if (body !== undefined) {
      const outcome = body.before(req.body, isBodyParser(handle))
      if (outcome.kind === 'refuse') return refuse(req, res, outcome.problem)
      if (outcome.kind === 'replace') req.body = outcome.body
    }
    return handle(req, res, next)
  } as Handle
  Object.defineProperty(wrapped, kCheckpoint, { value: true })
  return wrapped
}

/**
 * The body step of a guard on one site. A body parsed before the guard
 * (`app.use(express.json())`) is checked by the guard itself. A body the route parses after the
 * guard (`app.post('/x', guard(...), express.json(), handler)`) is checked by a checkpoint in
 * front of every later layer of the route, before the first one that runs with the parsed body;
 * a body on the wire that reaches any layer other than Express's own parsers unparsed is refused
 * (415 `PCL_BODY_UNREADABLE`), as is one a guard mounted with `use` finds unparsed: nothing the
 * guard has not read reaches a handler.
 */
export function bodyStep(rules: BodyRules | null, route: object | null): BodyStep {
  if (rules === null) return NOTHING
  const stack = (route as { stack?: { handle: Handle }[] } | null)?.stack
  const later = Array.isArray(stack)
  return {
    admit(req, res, view, next) {
      const admitted = admitBody(rules, view, req, req.body, later)
      const { outcome } = admitted
      if (outcome.kind === 'refuse') return refuse(req, res, outcome.problem)
      if (outcome.kind === 'replace') req.body = outcome.body
      if (admitted.pending !== null) {
        // Not enumerable: a copy of the request does not carry it, nor does `util.inspect` show
        // the body and rules it holds.
        Object.defineProperty(req, kPending, {
          value: admitted.pending,
          writable: true,
          configurable: true,
        })
      }
      next()
    },
    commit() {
      if (!later) return
      let guarded = false
      for (const layer of stack) {
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
}
