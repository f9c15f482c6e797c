import type { IncomingMessage, ServerResponse } from 'node:http'
import { answerOf, type SetPushAnswer, type SetReceiver } from './set-receiver.js'

/** A Node request, possibly with a body a body parser has read already (Express). */
type PushRequest = IncomingMessage & { body?: unknown }

/**
 * Reads a pushed body of at most `limit` bytes; `undefined` when it is longer (the rest is
 * drained, not kept). Both adapters read it so, so that both answer an oversized SET alike.
 */
export function readSetBody(request: PushRequest, limit: number): Promise<Buffer | undefined> {
  // A body parser that ran before (express.text or express.raw for this type) has it already.
  if (typeof request.body === 'string' || Buffer.isBuffer(request.body)) {
    return Promise.resolve(Buffer.from(request.body))
  }
  if (request.readableEnded) return Promise.resolve(Buffer.alloc(0))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        request.removeAllListeners('data')
        request.resume()
        resolve(undefined)
        return
      }
      chunks.push(chunk)
    })
    request.once('end', () => resolve(Buffer.concat(chunks)))
    request.once('error', reject)
  })
}

/**
 * The RFC 8935 push endpoint as a Node request handler, for Express (after the route's guard) or
 * `node:http`: reads the body (at most the receiver's `maxSetBytes`) and answers what the
 * receiver decided.
 *
 * @example
 * ```ts
 * app.post('/ssf/events', guard({ callers: ['idp'], ... }), createSetPushHandler(receiver))
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#security-event-tokens
 */
export function createSetPushHandler(
  receiver: SetReceiver,
): (request: IncomingMessage, response: ServerResponse) => void {
  if (typeof receiver?.push !== 'function') {
    throw new TypeError('createSetPushHandler: receiver must come from createSetReceiver')
  }
  return function portcullisSetPush(request, response) {
    readSetBody(request, receiver.maxSetBytes)
      .then((body) => pushed(receiver, body, request.headers['content-type']))
      .then(
        (answer) => {
          response.writeHead(answer.status, answer.headers)
          response.end(answer.body)
        },
        () => {
          response.writeHead(400, { 'content-type': 'application/json' })
          response.end(JSON.stringify({ err: 'invalid_request', description: 'unreadable body' }))
        },
      )
  }
}

/** The receiver's answer to a body read by {@link readSetBody}. */
export function pushed(
  receiver: SetReceiver,
  body: Buffer | undefined,
  contentType: string | undefined,
): Promise<SetPushAnswer> {
  if (body === undefined) {
    return Promise.resolve(
      answerOf({
        status: 400,
        err: 'invalid_request',
        description: `SET longer than maxSetBytes (${receiver.maxSetBytes})`,
      }),
    )
  }
  return receiver.push(body, contentType)
}
