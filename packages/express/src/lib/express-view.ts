import type { GuardRequest } from '@portcullis/core'
import { NodeView, nodeViews } from '@portcullis/runtime'
import type { HoldSlot } from '@portcullis/allowlist/internal'
import type { Request } from 'express'
import type { ServerResponse } from 'node:http'

/** The runtime's view of an Express request; one per request, made by the first guard. */
class ExpressView extends NodeView {
  // Express strips mount paths from `req.url`: the query is read from the URL as sent.
  override get url(): string {
    return (this.message as Request).originalUrl
  }

  override get native(): GuardRequest {
    return this.message as Request
  }

  // With the app's `trust proxy` applied.
  override get ip(): string | undefined {
    return (this.message as Request).ip
  }
}

export const { viewOf, viewOfResponse, principalOf, answerProblem, isAnswered } = nodeViews(
  (message, response, log, rules, route) => new ExpressView(message, response, log, rules, route),
)

/**
 * Where a response's holds are kept: on the view of its request, unless it is not the response
 * that view was made with (a request handed to the app again with another response), then on the
 * response itself. The guard holds a response there and the response methods look there.
 */
export function slotOf(res: ServerResponse): HoldSlot {
  return viewOfResponse(res) ?? (res as HoldSlot)
}
