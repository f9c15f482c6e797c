import {
  approve,
  later,
  nodeResponseSteps,
  pass,
  passes,
  protectResponses,
  refuseHeld,
  settled,
  type Hold,
  type HoldSteps,
  type ResponseMethod,
} from '@portcullis/allowlist/internal'
import type { Response } from 'express'
import type { ServerResponse } from 'node:http'
import { slotOf } from '../lib/express-view.js'

/**
 * Express's own response methods, in front of which the runtime's hold stands as it does in front
 * of Node's (`end`, `write`, `writeHead`, `flushHeaders`):
 *
 * - `res.json` projects the value before Express serializes it; `res.send` hands objects to
 *   `res.json` and projects strings and Buffers per their `Content-Type`;
 * - `res.redirect` and `res.sendStatus` send what Express writes (a location, a status text),
 *   which holds nothing of the application's;
 * - `res.sendFile` (and `res.download`, through it) is refused, on GET and HEAD alike.
 *
 * A route that opts out (`response: { passthrough }`, or no `response` with `requireResponse:
 * false`) leaves success bodies alone; error bodies are still held to problem+json fields.
 */
const expressSteps: HoldSteps = {
  json(hold: Hold, res: ServerResponse, down: ResponseMethod, [body]: unknown[]) {
    if (passes(hold, res.statusCode)) return pass(hold, res, down, [body])
    if (hold.refused) return res
    const outcome = hold.rules.value(hold.view, res.statusCode, body)
    return later(hold, res, outcome, (settled) => {
      if (settled.kind === 'refuse') return refuseHeld(hold, res, settled.problem)
      return approve(hold, res, down, [settled.kind === 'replace' ? settled.value : body])
    })
  },

  send(hold: Hold, res: ServerResponse, down: ResponseMethod, [body]: unknown[]) {
    if (passes(hold, res.statusCode)) return pass(hold, res, down, [body])
    if (hold.refused) return res
    if (body === undefined || body === null) return pass(hold, res, down, [body])
    // Objects, numbers and booleans: Express sends them as JSON, through res.json.
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
      return (res as Response).json(body)
    }
    const { rules, view } = hold
    const outcome = rules.serialized(view, res.statusCode, body, res.getHeader('content-type'))
    return later(hold, res, outcome, (settled) => {
      if (settled.kind === 'refuse') return refuseHeld(hold, res, settled.problem)
      if (settled.kind === 'keep') return pass(hold, res, down, [body])
      return approve(hold, res, down, [settled.body])
    })
  },

  redirect(hold: Hold, res: ServerResponse, down: ResponseMethod, args: unknown[]) {
    return hold.refused && !settled(hold) ? undefined : approve(hold, res, down, args)
  },

  sendStatus(hold: Hold, res: ServerResponse, down: ResponseMethod, args: unknown[]) {
    return hold.refused && !settled(hold) ? res : approve(hold, res, down, args)
  },

  // A file is streamed: the hold never sees it whole, so it is refused before Express opens it,
  // for HEAD too (where Express would send its size, type and dates with no body). `res.download`
  // sends through `res.sendFile`.
  sendFile(hold: Hold, res: ServerResponse, down: ResponseMethod, args: unknown[]) {
    if (passes(hold, res.statusCode)) return pass(hold, res, down, args)
    if (!hold.refused) refuseHeld(hold, res, hold.rules.uninspectable(hold.view, 'a file'))
    return undefined
  },
}

const steps: HoldSteps = Object.freeze({ ...nodeResponseSteps, ...expressSteps })

/**
 * Puts the hold in front of the response methods of an app, once, at `seal`: `app.response`, the
 * prototype Express gives the app's responses, is its documented extension point. `unheld`
 * decides on a response no guard admitted (a middleware that answers before any guard).
 */
export function protect(responsePrototype: object, unheld: (res: ServerResponse) => boolean): void {
  protectResponses(responsePrototype, steps, { unheld, slotOf })
}
