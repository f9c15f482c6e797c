import { Buffer } from 'node:buffer'
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { JSONWebKeySet } from 'jose'

/**
 * How the served JWKS endpoint answers, for fault injection. The four named faults:
 *
 * - `'down'`: the socket is destroyed without an answer (connection reset);
 * - `'slow'`: answers normally after {@link SLOW_JWKS_MS} (65 s), longer than any JWKS timeout
 *   Portcullis accepts, so the client's timeout is what ends the request;
 * - `'garbage'`: 200 `application/json` with a body that is not JSON;
 * - `'huge'`: 200 with a {@link HUGE_JWKS_BYTES} (10 MiB) JWKS without `Content-Length`, streamed
 *   in 64 KiB chunks as fast as the client reads, so only the client's byte limit stops it.
 *
 * And the tunable forms:
 *
 * - `'ok'`: 200 `application/json` with the current JWKS (the default);
 * - `{ status }`: that status with a small plain-text body;
 * - `{ delayMs }`: waits, then answers normally (a slow answer);
 * - `{ dripMs }`: 200 at once, then one byte of body every `dripMs`, never finishing (a slow body);
 * - `{ body, contentType? }`: 200 with this raw body; `contentType` defaults to `application/json`;
 * - `{ hugeBytes, contentLength? }`: like `'huge'`, `hugeBytes` long (at least 32), and with a
 *   `Content-Length` header when `contentLength` is `true`.
 *
 * The huge body is a well-formed JWKS with no keys (`{"keys":[],"pad":"xxx…"}`): a client that
 * reads it all finds no key in it.
 */
export type JwksBehavior =
  | 'ok'
  | 'down'
  | 'slow'
  | 'garbage'
  | 'huge'
  | { status: number }
  | { delayMs: number }
  | { dripMs: number }
  | { body: string | Uint8Array; contentType?: string }
  | { hugeBytes: number; contentLength?: boolean }

/** The path the JWKS is served at. */
export const JWKS_PATH = '/.well-known/jwks.json'

/** How long the `'slow'` behavior waits before answering: longer than any JWKS timeout allowed. */
export const SLOW_JWKS_MS = 65_000

/** The size of the `'huge'` behavior's body: 10 MiB. */
export const HUGE_JWKS_BYTES = 10 * 1024 * 1024

/** What the `'garbage'` behavior answers: a JSON body cut short by an HTML error page. */
const GARBAGE = '{"keys": [<html><body>502 Bad Gateway</body></html>'
const HUGE_PREFIX = '{"keys":[],"pad":"'
const HUGE_SUFFIX = '"}'
const MIN_HUGE_BYTES = 32
const CHUNK_BYTES = 64 * 1024
const LOOPBACK = '127.0.0.1'
const TEXT = 'text/plain; charset=utf-8'

/** A JWKS, or a function that returns the one to serve at request time. */
export type JwksSource = JSONWebKeySet | (() => JSONWebKeySet)

/**
 * A JWKS endpoint on loopback for tests: serves a key set at {@link JWKS_PATH}, counts the
 * requests and the body bytes it sends, and can be told to misbehave at run time.
 */
export interface JwksServer {
  /** How many requests for the JWKS the server has received, whatever its behavior. */
  readonly requests: number
  /** Body bytes handed to the network so far, over every answer (to assert a client hung up). */
  readonly bytesSent: number
  /** Sets how the JWKS endpoint answers from the next request on; `'ok'` restores it. */
  setBehavior(behavior: JwksBehavior): void
  /** Replaces the key set the endpoint serves (any JSON, private keys included). */
  setJwks(jwks: JwksSource): void
  /** Starts listening on `127.0.0.1` (random port) and returns the JWKS URI; idempotent. */
  listen(): Promise<string>
  /** Stops the server, destroying open connections and pending answers; idempotent, never hangs. */
  close(): Promise<void>
}

/**
 * Creates a {@link JwksServer} (not yet listening) serving `jwks`, by default an empty key set.
 *
 * @example
 * ```ts
 * const key = await createTestKey({ kid: 'k1' })
 * const server = createJwksServer({ keys: [key.jwk] })
 * const jwksUri = await server.listen()
 * server.setBehavior('huge') // then 'down', 'slow', 'garbage', or back to 'ok'
 * console.log(server.requests, server.bytesSent)
 * await server.close()
 * ```
 */
export function createJwksServer(jwks: JwksSource = { keys: [] }): JwksServer {
  return new LoopbackJwksServer(jwks)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function isDuration(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
}

/** Throws a `TypeError` unless `behavior` is a valid {@link JwksBehavior}. */
export function assertJwksBehavior(behavior: unknown): asserts behavior is JwksBehavior {
  if (
    behavior === 'ok' ||
    behavior === 'down' ||
    behavior === 'slow' ||
    behavior === 'garbage' ||
    behavior === 'huge'
  ) {
    return
  }
  if (!isObject(behavior)) {
    throw new TypeError(`Unknown JWKS behavior: ${JSON.stringify(behavior)}`)
  }
  if ('status' in behavior) {
    const { status } = behavior
    if (typeof status === 'number' && Number.isInteger(status) && status >= 200 && status <= 599)
      return
    throw new TypeError('JWKS behavior status must be an integer from 200 to 599')
  }
  if ('delayMs' in behavior) {
    if (isDuration(behavior.delayMs)) return
    throw new TypeError('JWKS behavior delayMs must be a finite number of milliseconds >= 0')
  }
  if ('dripMs' in behavior) {
    if (isDuration(behavior.dripMs) && behavior.dripMs > 0) return
    throw new TypeError('JWKS behavior dripMs must be a finite number of milliseconds > 0')
  }
  if ('body' in behavior) {
    const { body, contentType } = behavior
    if (
      (typeof body === 'string' || body instanceof Uint8Array) &&
      (contentType === undefined || typeof contentType === 'string')
    )
      return
    throw new TypeError('JWKS behavior body must be a string or bytes')
  }
  if ('hugeBytes' in behavior) {
    const { hugeBytes, contentLength } = behavior
    if (
      typeof hugeBytes === 'number' &&
      Number.isSafeInteger(hugeBytes) &&
      hugeBytes >= MIN_HUGE_BYTES &&
      (contentLength === undefined || typeof contentLength === 'boolean')
    )
      return
    throw new TypeError(`JWKS behavior hugeBytes must be an integer >= ${MIN_HUGE_BYTES}`)
  }
  throw new TypeError(`Unknown JWKS behavior: ${JSON.stringify(behavior)}`)
}

interface Running {
  readonly server: Server
  readonly uri: string
}

/** The {@link JwksServer} behind {@link createJwksServer} and the test issuer. */
export class LoopbackJwksServer implements JwksServer {
  #jwks: JwksSource
  readonly #sockets = new Set<Socket>()
  readonly #timers = new Set<NodeJS.Timeout>()
  #behavior: JwksBehavior = 'ok'
  #requests = 0
  #bytesSent = 0
  #running: Promise<Running> | undefined
  #closing: Promise<void> = Promise.resolve()

  constructor(jwks: JwksSource) {
    this.#jwks = jwks
  }

  get requests(): number {
    return this.#requests
  }

  get bytesSent(): number {
    return this.#bytesSent
  }

  setBehavior(behavior: JwksBehavior): void {
    assertJwksBehavior(behavior)
    this.#behavior = behavior
  }

  setJwks(jwks: JwksSource): void {
    this.#jwks = jwks
  }

  async listen(): Promise<string> {
    this.#running ??= this.#start().catch((error: unknown) => {
      this.#running = undefined
      throw error
    })
    return (await this.#running).uri
  }

  close(): Promise<void> {
    const running = this.#running
    if (running === undefined) return this.#closing
    this.#running = undefined
    this.#closing = running.then(
      ({ server }) => this.#stop(server),
      () => undefined,
    )
    return this.#closing
  }

  async #start(): Promise<Running> {
    const server = createServer((req, res) => this.#handle(req, res))
    server.on('connection', (socket) => {
      this.#sockets.add(socket)
      socket.once('close', () => this.#sockets.delete(socket))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, LOOPBACK, () => {
        server.off('error', reject)
        resolve()
      })
    })
    const { port } = server.address() as AddressInfo
    return { server, uri: `http://${LOOPBACK}:${port}${JWKS_PATH}` }
  }

  async #stop(server: Server): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
    await closed
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0]
    if (path !== JWKS_PATH) {
      this.#send(res, 404, TEXT, 'not found')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      this.#send(res, 405, TEXT, 'method not allowed')
      return
    }
    this.#requests += 1
    this.#answer(this.#behavior, req, res)
  }

  #answer(behavior: JwksBehavior, req: IncomingMessage, res: ServerResponse): void {
    if (behavior === 'ok') {
      const jwks = typeof this.#jwks === 'function' ? this.#jwks() : this.#jwks
      this.#send(res, 200, 'application/json', JSON.stringify(jwks))
    } else if (behavior === 'down') {
      req.socket.destroy()
    } else if (behavior === 'slow') {
      this.#answer({ delayMs: SLOW_JWKS_MS }, req, res)
    } else if (behavior === 'garbage') {
      this.#send(res, 200, 'application/json', GARBAGE)
    } else if (behavior === 'huge') {
      this.#answer({ hugeBytes: HUGE_JWKS_BYTES }, req, res)
    } else if ('status' in behavior) {
      const { status } = behavior
      this.#send(res, status, TEXT, `${status} ${STATUS_CODES[status] ?? ''}`)
    } else if ('delayMs' in behavior) {
      this.#scheduler(res)(behavior.delayMs, () => this.#answer('ok', req, res))
    } else if ('dripMs' in behavior) {
      this.#drip(res, behavior.dripMs)
    } else if ('body' in behavior) {
      this.#send(res, 200, behavior.contentType ?? 'application/json', behavior.body)
    } else {
      this.#flood(res, behavior.hugeBytes, behavior.contentLength === true)
    }
  }

  /**
   * A scheduler for one response: `after(ms, fn)` runs `fn` later unless the client hung up or
   * the server closed first. One timer at a time, cleared with the response.
   */
  #scheduler(res: ServerResponse): (ms: number, fn: () => void) => void {
    let pending: NodeJS.Timeout | undefined
    const clear = (): void => {
      if (pending === undefined) return
      clearTimeout(pending)
      this.#timers.delete(pending)
      pending = undefined
    }
    res.once('close', clear)
    return (ms, fn) => {
      clear()
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        pending = undefined
        if (!res.destroyed) fn()
      }, ms)
      timer.unref()
      this.#timers.add(timer)
      pending = timer
    }
  }

  #drip(res: ServerResponse, everyMs: number): void {
    const after = this.#scheduler(res)
    res.writeHead(200, { 'content-type': 'application/json' })
    this.#write(res, '{')
    const tick = (): void => {
      this.#write(res, ' ')
      after(everyMs, tick)
    }
    after(everyMs, tick)
  }

  /**
   * Streams a `bytes` long JWKS one chunk per timer tick, and only while the client reads
   * (`drain`), so `bytesSent` is about what the client took in rather than what the kernel's
   * socket buffers can hold.
   */
  #flood(res: ServerResponse, bytes: number, contentLength: boolean): void {
    const after = this.#scheduler(res)
    const headers: Record<string, string | number> = { 'content-type': 'application/json' }
    if (contentLength) headers['content-length'] = bytes
    res.writeHead(200, headers)
    const chunk = Buffer.alloc(CHUNK_BYTES, 'x')
    let left = bytes - HUGE_PREFIX.length - HUGE_SUFFIX.length
    const pump = (): void => {
      if (res.destroyed) return
      if (left <= 0) {
        this.#write(res, HUGE_SUFFIX)
        res.end()
        return
      }
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left)
      left -= piece.length
      if (this.#write(res, piece)) after(1, pump)
      else res.once('drain', () => after(1, pump))
    }
    this.#write(res, HUGE_PREFIX)
    pump()
  }

  #write(res: ServerResponse, body: string | Uint8Array): boolean {
    this.#bytesSent += typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
    return res.write(body)
  }

  #send(res: ServerResponse, status: number, contentType: string, body: string | Uint8Array): void {
    res.writeHead(status, {
      'content-type': contentType,
      'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
    })
    this.#bytesSent += typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
    res.end(body)
  }
}
