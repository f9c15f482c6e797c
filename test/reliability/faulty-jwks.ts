import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { JSONWebKeySet } from 'jose'

/**
 * How the endpoint answers, for the faults the test issuer's server cannot produce:
 *
 * - `'ok'`: the JWKS;
 * - `'flood'`: 200 with a 10 MB body in chunks and no Content-Length, paced so that it all
 *   arrives well within the client's timeout (so only the client's byte limit can stop it);
 * - `'drip'`: 200 at once, then one byte of body every 25 ms for 10 s (a body slower than any
 *   timeout).
 */
export type FaultyMode = 'ok' | 'flood' | 'drip'

export const FLOOD_BYTES = 10 * 1024 * 1024

/** A JWKS endpoint on loopback that can stream a huge or endless body. */
export class FaultyJwks {
  mode: FaultyMode = 'ok'
  /** JWKS requests received. */
  requests = 0
  /** Body bytes the flood handed to the socket, over all requests. */
  floodBytes = 0
  readonly #jwks: () => JSONWebKeySet
  readonly #sockets = new Set<Socket>()
  #server: Server | undefined

  constructor(jwks: () => JSONWebKeySet) {
    this.#jwks = jwks
  }

  async listen(): Promise<string> {
    const server = createServer((req, res) => {
      this.requests++
      if (this.mode === 'ok') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(this.#jwks()))
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      if (this.mode === 'drip') {
        res.write('{')
        let left = 400
        const timer = setInterval(() => {
          if (left-- <= 0 || res.destroyed) {
            clearInterval(timer)
            res.end()
            return
          }
          res.write(' ')
        }, 25)
        res.once('close', () => clearInterval(timer))
        return
      }
      // flood: one 64 KiB chunk per timer tick (10 MB in well under the client's timeout), and
      // only while the client reads, so the bytes counted are about what the client took in
      // rather than what the kernel's socket buffers can hold.
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      let sent = 0
      const pump = (): void => {
        if (res.destroyed) return
        if (sent >= FLOOD_BYTES) {
          res.end()
          return
        }
        sent += chunk.length
        this.floodBytes += chunk.length
        if (res.write(chunk)) setTimeout(pump, 1)
        else res.once('drain', () => setTimeout(pump, 1))
      }
      res.write('{"keys":[')
      pump()
    })
    server.on('connection', (socket) => {
      this.#sockets.add(socket)
      socket.once('close', () => this.#sockets.delete(socket))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    this.#server = server
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  }

  async close(): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const socket of this.#sockets) socket.destroy()
    await closed
  }
}
