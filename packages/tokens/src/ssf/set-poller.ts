import type { Duration } from '@portcullis/core'
import { invalidOptionsError } from '@portcullis/core/internal'
import { z } from 'zod'
import { duration, httpsUrl, integer } from '../lib/schema-parts.js'
import type { SetErrorCode, SetReceiver } from './set-receiver.js'

/**
 * Options of {@link createSetPoller}.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#security-event-tokens
 */
export interface SetPollerOptions {
  /** The receiver that verifies and applies each SET ({@link createSetReceiver}). */
  receiver: SetReceiver
  /** The transmitter's poll endpoint (https:, or http: on a loopback host). */
  endpoint: string
  /** Headers of each poll request, e.g. `{ authorization: 'Bearer …' }` (RFC 8936 §2). */
  headers?: Record<string, string>
  /** `maxEvents` of each request. Default 100, from 1 to 10000. */
  maxEvents?: number
  /** Pause between polls when the transmitter has nothing more. Default 5000 ms, 100 ms to 1 h. */
  interval?: Duration
  /** Deadline of one poll request. Default 10000 ms, from 1 ms to 60 s. */
  timeout?: Duration
  /** Longest poll response accepted, in bytes. Default 1 MiB. */
  maxResponseBytes?: number
  /** Called with each failed poll (the poller goes on); default: ignored. */
  onError?: (error: Error) => void
}

/** What one poll did. */
export interface SetPollResult {
  /** SETs the transmitter delivered. */
  readonly received: number
  /** Their keys acknowledged (applied, or received before): sent with the next request. */
  readonly acknowledged: readonly string[]
  /** Their keys refused, with the RFC 8935 error: sent with the next request as `setErrs`. */
  readonly errors: Readonly<Record<string, { err: SetErrorCode; description: string }>>
  /** Whether the transmitter holds more (the poller asks again at once). */
  readonly moreAvailable: boolean
}

/** An RFC 8936 poll client: asks the transmitter for SETs and hands each to the receiver. */
export interface SetPoller {
  /** One poll request: sends the acknowledgements of the previous one, processes what comes back. */
  poll(): Promise<SetPollResult>
  /** Polls until {@link SetPoller.close}: at once while more is available, else every `interval`. */
  start(): void
  /** Stops polling (a poll in flight completes). */
  close(): void
}

const optionsSchema = z.strictObject(
  {
    receiver: z.custom<SetReceiver>(
      (value) => typeof (value as SetReceiver | null)?.receive === 'function',
      { error: 'must come from createSetReceiver' },
    ),
    // SETs and the poll credentials travel in it.
    endpoint: httpsUrl(),
    headers: z.record(z.string(), z.string()).optional(),
    maxEvents: integer(1, 10_000).optional(),
    interval: duration('ms', 100, 3_600_000).optional(),
    timeout: duration('ms', 1, 60_000).optional(),
    maxResponseBytes: integer(1024, 64 * 1_048_576).optional(),
    onError: z.custom<(error: Error) => void>((v) => typeof v === 'function').optional(),
  },
  { error: 'must be an object' },
)

/**
 * Creates an RFC 8936 poll client: each request acknowledges the SETs of the previous one
 * (`ack`, `setErrs`), asks for up to `maxEvents` more (`returnImmediately: true`), and hands each
 * to the receiver. A SET the receiver could not decide (503: keys or Redis unavailable) is neither
 * acknowledged nor refused, so the transmitter delivers it again.
 *
 * @example
 * ```ts
 * const poller = createSetPoller({ receiver, endpoint: 'https://idp.internal/ssf/poll',
 *   headers: { authorization: `Bearer ${process.env.SSF_TOKEN}` } })
 * poller.start()
 * app.addHook('onClose', () => poller.close())
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#security-event-tokens
 */
export function createSetPoller(options: SetPollerOptions): SetPoller {
  const parsed = optionsSchema.safeParse(options)
  if (!parsed.success) {
    throw invalidOptionsError(parsed.error.issues, 'createSetPoller', parsed.error)
  }
  const { receiver, endpoint, headers = {}, onError } = parsed.data
  const maxEvents = parsed.data.maxEvents ?? 100
  const interval = parsed.data.interval ?? 5000
  const timeout = parsed.data.timeout ?? 10_000
  const maxResponseBytes = parsed.data.maxResponseBytes ?? 1_048_576

  let ack: string[] = []
  let setErrs: Record<string, { err: SetErrorCode; description: string }> = {}
  let closed = false
  let timer: NodeJS.Timeout | undefined

  async function request(): Promise<Record<string, unknown>> {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ ack, setErrs, maxEvents, returnImmediately: true }),
      redirect: 'error',
      signal: AbortSignal.timeout(timeout),
    })
    const text = await response.text()
    if (!response.ok) throw new Error(`SET poll answered ${response.status}`)
    if (text.length > maxResponseBytes) throw new Error('SET poll response too large')
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new Error('SET poll response is not JSON')
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new Error('SET poll response is not an object')
    }
    return body as Record<string, unknown>
  }

  async function poll(): Promise<SetPollResult> {
    const body = await request()
    // Delivered: the transmitter has the acknowledgements; the next ones start empty.
    ack = []
    setErrs = {}
    const sets = body.sets ?? {}
    if (typeof sets !== 'object' || sets === null || Array.isArray(sets)) {
      throw new Error('SET poll response: sets must be an object')
    }
    for (const [key, set] of Object.entries(sets)) {
      const outcome = await receiver.receive(set)
      // A SET received before was applied then: acknowledging it stops its redelivery.
      if (outcome.status === 202 || (outcome.status === 400 && outcome.replayed === true)) {
        ack.push(key)
      } else if (outcome.status === 400) {
        setErrs[key] = { err: outcome.err, description: outcome.description }
      }
    }
    return Object.freeze({
      received: Object.keys(sets).length,
      acknowledged: Object.freeze([...ack]),
      errors: Object.freeze({ ...setErrs }),
      moreAvailable: body.moreAvailable === true,
    })
  }

  function next(delay: number): void {
    if (closed) return
    timer = setTimeout(function portcullisSetPoll() {
      poll().then(
        (result) => next(result.moreAvailable ? 0 : interval),
        (err: unknown) => {
          onError?.(err instanceof Error ? err : new Error(String(err)))
          next(interval)
        },
      )
    }, delay)
    timer.unref()
  }

  return Object.freeze({
    poll,
    start() {
      if (timer === undefined && !closed) next(0)
    },
    close() {
      closed = true
      clearTimeout(timer)
    },
  })
}
