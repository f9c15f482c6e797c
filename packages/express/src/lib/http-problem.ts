import { STATUS_CODES } from 'node:http'

/** A problem+json response, ready to send. */
export interface Problem {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: object
}

/**
 * A problem with no more to say than its HTTP status (RFC 9457 §4.2.1: `type` is `about:blank`
 * and `title` the status phrase): what the guard answers for errors that are not its own
 * decisions, such as a body that does not parse or a URL no route serves.
 */
export function statusProblem(status: number): Problem {
  return {
    status,
    headers: { 'content-type': 'application/problem+json' },
    body: { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status },
  }
}

/**
 * The HTTP status an error asks for, the way Express's own error handler reads it (`status` or
 * `statusCode`, as `http-errors` and body parsers set them), when it is a client or server error
 * other than a bare 500; `null` otherwise.
 */
export function errorStatus(err: unknown): number | null {
  if (typeof err !== 'object' || err === null) return null
  const { status, statusCode } = err as { status?: unknown; statusCode?: unknown }
  const value = typeof status === 'number' ? status : statusCode
  if (typeof value !== 'number' || !Number.isInteger(value)) return null
  return value >= 400 && value <= 599 && value !== 500 ? value : null
}
