import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { JSONWebKeySet } from 'jose'

/** How the test JWKS endpoint answers. */
export type JwksBehavior =
  | { kind: 'ok' }
  | { kind: 'status'; status: number }
  | { kind: 'garbage' }
  | { kind: 'not-jwks' }
  | { kind: 'reset' }
  | { kind: 'slow'; ms: number }
  | { kind: 'huge'; bytes: number; contentLength: boolean }

/** A JWKS served on 127.0.0.1 for tests, counting the requests it gets. */
export interface JwksServer {
  readonly url: string
  /** Requests received so far (any path). */
  readonly requests: number
  setJwks(jwks: JSONWebKeySet): void
  setBehavior(behavior: JwksBehavior): void
  close(): Promise<void>
}

/** Starts a JWKS server on a free loopback port. */
export async function startJwksServer(initial: JSONWebKeySet = { keys: [] }): Promise<JwksServer> {
  let jwks = initial
  let behavior: JwksBehavior = { kind: 'ok' }
  let requests = 0
  const timers = new Set<NodeJS.Timeout>()

  const handle = (_req: IncomingMessage, res: ServerResponse): void => {
    requests++
    switch (behavior.kind) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks))
        return
      case 'status':
        res.writeHead(behavior.status, { 'content-type': 'application/json' }).end('{}')
        return
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [<html>')
        return
      case 'not-jwks':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": "nope"}')
        return
      case 'reset':
        res.socket?.destroy()
        return
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer)
          if (!res.destroyed) {
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks))
          }
        }, behavior.ms)
        timers.add(timer)
        return
      }
      case 'huge': {
        const headers: Record<string, string> = { 'content-type': 'application/json' }
        if (behavior.contentLength) headers['content-length'] = String(behavior.bytes)
        res.writeHead(200, headers)
        const prefix = '{"keys":[],"pad":"'
        const body = prefix + 'x'.repeat(Math.max(0, behavior.bytes - prefix.length - 2)) + '"}'
        const chunk = 16 * 1024
        for (let i = 0; i < body.length; i += chunk) res.write(body.slice(i, i + chunk))
        res.end()
        return
      }
    }
  }

  const server: Server = createServer(handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get requests() {
      return requests
    },
    setJwks(next) {
      jwks = next
    },
    setBehavior(next) {
      behavior = next
    },
    async close() {
      for (const timer of timers) clearTimeout(timer)
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
