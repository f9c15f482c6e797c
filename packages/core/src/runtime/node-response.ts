import { STATUS_CODES, type ServerResponse } from 'node:http'
import { isPortcullisError, RequestError, type CodeOfKind } from '../errors/index.js'
import { renderProblem, type RenderedProblem } from '../problem/index.js'
import type { GuardLogger } from './request-view.js'

/** A problem+json response to write: a rendered decision, or a bare status problem. */
export type ProblemToWrite = Pick<RenderedProblem, 'status' | 'headers'> & {
  readonly body: object
}

// Headers of the body the application meant to send, which would misdescribe the problem.
const REPRESENTATION = [
  'etag',
  'last-modified',
  'content-encoding',
  'content-range',
  'content-disposition',
]

/** Headers a framework holds for a response (Fastify's `reply.getHeaders()`). */
export type ResponseHeaders = Readonly<
  Record<string, string | number | readonly string[] | undefined>
>

// A problem as it goes on the wire: its body as text and its headers as one flat list (name,
// value, ...), `content-length` included.
interface Wire {
  readonly text: string
  readonly headers: string[]
  /** Lower-case names the problem sets, which no other header of the response may repeat. */
  readonly names: ReadonlySet<string>
}

// Kept for the problems rendered once and reused (frozen: refusals that carry nothing of their
// own, such as an invalid token), so a flood of them formats nothing per request.
const wires = new WeakMap<ProblemToWrite, Wire>()

function wireOf(problem: ProblemToWrite): Wire {
  const kept = wires.get(problem)
  if (kept !== undefined) return kept
  const text = JSON.stringify(problem.body)
  const headers: string[] = []
  for (const [name, value] of Object.entries(problem.headers)) headers.push(name, value)
  headers.push('content-length', String(Buffer.byteLength(text)))
  const names = new Set(['content-type', 'content-length'])
  for (const name of Object.keys(problem.headers)) names.add(name.toLowerCase())
  const wire = { text, headers, names }
  if (Object.isFrozen(problem)) {
    // Handed to every answer of the problem from now on: frozen, as the problem is.
    Object.freeze(headers)
    wires.set(problem, wire)
  }
  return wire
}

// The headers a response already had, as a flat list ahead of the problem's: those describing
// the application's body and those the problem sets left out.
function alongside(headers: ResponseHeaders, wire: Wire): string[] {
  const flat: string[] = []
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    const lower = name.toLowerCase()
    if (wire.names.has(lower) || REPRESENTATION.includes(lower)) continue
    if (typeof value === 'object') for (const each of value) flat.push(name, each)
    else flat.push(name, String(value))
  }
  return flat.length === 0 ? wire.headers : flat.concat(wire.headers)
}

/**
 * Writes a problem+json response on Node's response (through `end`, the response's own `end` by
 * default), straight to the client, with `headers` the framework holds for the response (the
 * rate-limit headers) beside the problem's own. Once headers are out the status can no longer
 * change, so the connection is closed instead: the client never gets a body the guard did not
 * approve.
 */
export function writeProblem(
  res: ServerResponse,
  problem: ProblemToWrite,
  end?: (body: Buffer) => void,
  headers?: ResponseHeaders,
): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const wire = wireOf(problem)
  // Nothing set on the response yet (a Fastify refusal): the status line, the headers and the
  // body go out in one write, with no header set one by one.
  if (end === undefined && res.getHeaderNames().length === 0) {
    res.writeHead(problem.status, headers === undefined ? wire.headers : alongside(headers, wire))
    res.end(wire.text)
    return
  }
  if (headers !== undefined) {
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined) res.setHeader(name, value)
    }
  }
  const body = Buffer.from(wire.text)
  res.statusCode = problem.status
  for (const name of REPRESENTATION) if (res.hasHeader(name)) res.removeHeader(name)
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value)
  res.setHeader('content-length', body.length)
  if (end === undefined) res.end(body)
  else end(body)
}

/**
 * A problem with no more to say than its HTTP status (RFC 9457 §4.2.1: `type` is `about:blank`
 * and `title` the status phrase): what the guard answers for errors that are not its own
 * decisions, such as a body that does not parse or a URL no route serves.
 */
export function statusProblem(status: number): ProblemToWrite {
  return {
    status,
    headers: { 'content-type': 'application/problem+json' },
    body: { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status },
  }
}

/**
 * The HTTP status an error asks for (`status` or `statusCode`, as `http-errors` and body parsers
 * set them), when it is a client or server error other than a bare 500; `null` otherwise.
 */
export function errorStatus(err: unknown): number | null {
  if (typeof err !== 'object' || err === null) return null
  const { status, statusCode } = err as { status?: unknown; statusCode?: unknown }
  const value = typeof status === 'number' ? status : statusCode
  if (typeof value !== 'number' || !Number.isInteger(value)) return null
  return value >= 400 && value <= 599 && value !== 500 ? value : null
}

// The request errors a framework or a body parser raises with a status, as Portcullis's codes: a
// body that does not parse, a body or URL too large, a media type the parser refuses.
const STATUS_CODE: Readonly<Record<number, CodeOfKind<'request'>>> = {
  400: 'PCL_MALFORMED_REQUEST',
  413: 'PCL_BODY_TOO_LARGE',
  414: 'PCL_URI_TOO_LONG',
  415: 'PCL_BODY_UNREADABLE',
}

/**
 * The problem to answer for an error that reached the end of a request: Portcullis's own
 * refusals render as themselves; an error carrying an HTTP status (a body that does not parse, a
 * payload too large, `http-errors`) keeps its status with an `about:blank` problem; anything else
 * is a 500 `PCL_INTERNAL`. Request errors with a status Portcullis has a code for (400, 413, 414,
 * 415) get that code (`PCL_MALFORMED_REQUEST`...), the others keep `about:blank`. Never a message, a stack or a field of the error. Server errors are
 * logged.
 */
export function errorProblem(
  err: unknown,
  context: { readonly realm: string | undefined; readonly resourceMetadata?: string | undefined },
  log: GuardLogger,
): ProblemToWrite {
  if (isPortcullisError(err) && err.kind !== 'config' && err.kind !== 'internal') {
    return renderProblem(err, { realm: context.realm, resourceMetadata: context.resourceMetadata })
  }
  const status = errorStatus(err)
  if (status !== null) {
    if (status >= 500) log.error({ err }, 'portcullis: request failed')
    const code = STATUS_CODE[status]
    return code === undefined ? statusProblem(status) : renderProblem(new RequestError(code))
  }
  log.error({ err }, 'portcullis: unhandled error; answered 500')
  return renderProblem(err)
}
