import {
  declaredLength,
  hasBody,
  type BodyOutcome,
  type BodyRules,
} from '@portcullis/allowlist/internal'
import type { RequestView } from '@portcullis/core/internal'
import type { IncomingMessage } from 'node:http'

const KEEP: BodyOutcome = Object.freeze({ kind: 'keep' as const })

/**
 * Counts the bytes of a chunked body as Node's parser hands them to the request, from what it
 * buffered already: the guard runs before the route's parser reads any of it.
 */
function countBytes(message: IncomingMessage): { count: number } {
  const bytes = { count: message.readableLength }
  // The request's own push (Readable.prototype.push), called with the request as `this`.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const push = message.push
  Object.defineProperty(message, 'push', {
    configurable: true,
    writable: true,
    value: function portcullisCountBody(
      this: IncomingMessage,
      chunk: unknown,
      encoding?: BufferEncoding,
    ) {
      if (typeof chunk === 'string') bytes.count += Buffer.byteLength(chunk, encoding)
      else if (chunk instanceof Uint8Array) bytes.count += chunk.length
      return push.call(this, chunk, encoding)
    },
  })
  return bytes
}

/**
 * The body of a request whose route parses it after the guard (a parser among the route's own
 * handlers): checked before each later handler runs, the first time it shows a body it has not
 * seen (a handler that replaces the body has the new one checked too). A body on the wire that
 * reaches a handler other than a parser unparsed is refused (415): that handler could read the
 * raw stream.
 */
export class PendingBody {
  private checked: unknown
  /** True while a body on the wire waits for a parser. */
  unparsed: boolean
  private readonly bytes: { count: number } | null

  constructor(
    private readonly rules: BodyRules,
    private readonly view: RequestView,
    message: IncomingMessage,
    body: unknown,
  ) {
    this.unparsed = body === undefined && hasBody(message)
    this.bytes =
      this.unparsed && rules.maxBytes !== null && declaredLength(message) === null
        ? countBytes(message)
        : null
  }

  /** The outcome for the body a handler is about to see; `parser`: it may read the stream. */
  before(body: unknown, parser: boolean): BodyOutcome {
    if (body !== undefined && body !== this.checked) {
      this.unparsed = false
      return this.seen(body, this.rules.admit(this.view, body, this.bytes?.count ?? null))
    }
    if (this.unparsed && !parser) {
      this.unparsed = false
      const problem = this.rules.unparsed(this.view)
      if (problem !== null) return { kind: 'refuse', problem }
    }
    return KEEP
  }

  /** Records the body an outcome leaves to the handlers, so that it is not checked again. */
  seen(body: unknown, outcome: BodyOutcome): BodyOutcome {
    if (outcome.kind === 'keep') this.checked = body
    else if (outcome.kind === 'replace') this.checked = outcome.body
    return outcome
  }
}

/**
 * The body step when the guard allows a request: the headers first (a multipart body 415, a
 * declared length over `maxBytes` 413), then the body as parsed before the guard. With `later`
 * (the route has handlers after the guard, which may parse it), the body is also held for
 * checking before each of them: `pending`.
 */
export function admitBody(
  rules: BodyRules,
  view: RequestView,
  message: IncomingMessage,
  body: unknown,
  later: boolean,
): { readonly outcome: BodyOutcome; readonly pending: PendingBody | null } {
  const head = rules.head(view)
  if (head !== null) return { outcome: { kind: 'refuse', problem: head }, pending: null }
  if (!later) return { outcome: rules.admit(view, body, null), pending: null }
  const pending = new PendingBody(rules, view, message, body)
  if (pending.unparsed) return { outcome: KEEP, pending }
  return { outcome: pending.seen(body, rules.admit(view, body, null)), pending }
}
