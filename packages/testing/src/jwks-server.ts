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
 * How the served JWKS endpoint answers, for fault injection:
 *
 * - `'ok'`: 200 `application/json` with the current JWKS (the default);
 * - `'down'`: the socket is destroyed without an answer;
 * - `{ status }`: that status with a small plain-text body;
 * - `{ delayMs }`: waits, then answers normally (to test timeouts);
 * - `{ body, contentType? }`: 200 with this raw body (garbage, an oversized body...);
 *   `contentType` defaults to `application/json`.
 */
export type JwksBehavior =
  | 'ok'
  | 'down'
  | { status: number }
  | { delayMs: number }
  | { body: string | Uint8Array; contentType?: string }

/** The path the JWKS is served at. */
export const JWKS_PATH = '/.well-known/jwks.json'

const LOOPBACK = '127.0.0.1'

/** Throws a `TypeError` unless `behavior` is a valid {@link JwksBehavior}. */
export function assertJwksBehavior(behavior: unknown): asserts behavior is JwksBehavior {
  if (behavior === 'ok' || behavior === 'down') return
  if (typeof behavior === 'object' && behavior !== null) {
    const b = behavior as Record<string, unknown>
    if ('status' in b) {
      const { status } = b
      if (typeof status === 'number' && Number.isInteger(status) && status >= 200 && status <= 599)
        return
      throw new TypeError(`JWKS behavior status must be an integer from 200 to 599`)
    }
    if ('delayMs' in b) {
      const { delayMs } = b
      if (typeof delayMs === 'number' && Number.isFinite(delayMs) && delayMs >= 0) return
      throw new TypeError('JWKS behavior delayMs must be a finite number of milliseconds >= 0')
    }
    if ('body' in b) {
      const { body, contentType } = b
      if (
        (typeof body === 'string' || body instanceof Uint8Array) &&
        (contentType === undefined || typeof contentType === 'string')
      )
        return
      throw new TypeError('JWKS behavior body must be a string or bytes')
    }
  }
  throw new TypeError(`Unknown JWKS behavior: ${JSON.stringify(behavior)}`)
}

interface Running {
  readonly server: Server
  readonly uri: string
}

/**
 * Serves a JWKS over HTTP on loopback (`127.0.0.1`, random port) at {@link JWKS_PATH}, counts the
 * requests, and can be told to misbehave. Closing destroys open sockets and pending delays, so it
 * never hangs.
 */
export class JwksServer {
  readonly #getJwks: () => JSONWebKeySet
  readonly #sockets = new Set<Socket>()
  readonly #timers = new Set<NodeJS.Timeout>()
  #behavior: JwksBehavior = 'ok'
  #requests = 0
  #running: Promise<Running> | undefined
  #closing: Promise<void> = Promise.resolve()

  /** Creates a server (not yet listening) that serves what `getJwks` returns at request time. */
  constructor(getJwks: () => JSONWebKeySet) {
    this.#getJwks = getJwks
  }

  /** How many requests for the JWKS the server has received, whatever its behavior. */
  get requests(): number {
    return this.#requests
  }

  /** Sets how the JWKS endpoint answers from the next request on. */
  setBehavior(behavior: JwksBehavior): void {
    assertJwksBehavior(behavior)
    this.#behavior = behavior
  }

  /** Starts listening (once; later calls return the same URI) and returns the JWKS URI. */
  async listen(): Promise<string> {
    this.#running ??= this.#start().catch((error: unknown) => {
      this.#running = undefined
      throw error
    })
    return (await this.#running).uri
  }

  /** Stops the server if it runs, destroying open connections; safe to call any number of times. */
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
      send(res, 404, 'text/plain; charset=utf-8', 'not found')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed')
      return
    }
    this.#requests += 1
    this.#answer(this.#behavior, req, res)
  }

  #answer(behavior: JwksBehavior, req: IncomingMessage, res: ServerResponse): void {
    if (behavior === 'ok') {
      send(res, 200, 'application/json', JSON.stringify(this.#getJwks()))
    } else if (behavior === 'down') {
      req.socket.destroy()
    } else if ('status' in behavior) {
      const { status } = behavior
      send(res, status, 'text/plain; charset=utf-8', `${status} ${STATUS_CODES[status] ?? ''}`)
    } else if ('delayMs' in behavior) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        if (!res.destroyed) this.#answer('ok', req, res)
      }, behavior.delayMs)
      timer.unref()
      this.#timers.add(timer)
      res.once('close', () => {
        clearTimeout(timer)
        this.#timers.delete(timer)
      })
    } else {
      send(res, 200, behavior.contentType ?? 'application/json', behavior.body)
    }
  }
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Uint8Array,
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
  })
  res.end(body)
}
