import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import {
  createGuard,
  type AuditEvent,
  type Guard,
  type GuardLogger,
  type PortcullisExpressOptions,
} from '@portcullis/express'
import { createTestIssuer, type TestIssuer } from '@portcullis/testing'
import express, { type Express } from 'express'
import { trustedTokens } from '../helpers.js'

/** A response as the tests read it. */
export interface Reply {
  status: number
  headers: Headers
  body: string
  json<T = any>(): T
}

/** An Express app guarded by Portcullis, listening on loopback, and what the tests inspect. */
export interface GuardedExpress {
  app: Express
  guard: Guard
  issuer: TestIssuer
  events: AuditEvent[]
  /** Every line the guard logged, as JSON (to check that tokens never reach a log). */
  logs: string[]
  base: string
  request(
    path: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<Reply>
  close(): Promise<void>
}

function errorFields(_key: string, value: unknown): unknown {
  return value instanceof Error ? { message: value.message, stack: value.stack } : value
}

/** A logger that keeps every line, at every level, as JSON. */
export function capturingLogger(lines: string[]): GuardLogger {
  const write =
    (level: string) =>
    (fields: object, message: string): void =>
      void lines.push(JSON.stringify({ level, message, ...fields }, errorFields))
  return { info: write('info'), warn: write('warn'), error: write('error') }
}

/** Resolves with the error `fn` throws (fails the test when it does not). */
export function thrown(fn: () => unknown): Error & Record<string, unknown> {
  try {
    fn()
  } catch (err) {
    return err as Error & Record<string, unknown>
  }
  throw new Error('expected a throw')
}

/** Starts `app` on 127.0.0.1, port 0 (or `port`). */
export async function listen(app: Express, port = 0): Promise<{ server: Server; base: string }> {
  const server = app.listen(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

/** A request over fetch, read whole. */
export async function fetchReply(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const res = await fetch(`${base}${path}`, { ...init, redirect: 'manual' })
  const body = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    body,
    json: () => JSON.parse(body) as never,
  }
}

/**
 * Builds, seals and starts an app: `routes` declares the routes (with the guard), then the app
 * is sealed unless `seal: false`. The issuer's keys are given as a JWKS object.
 */
export async function guardedExpress(
  routes: (app: Express, guard: Guard) => void | Promise<void>,
  options: {
    portcullis?: Partial<PortcullisExpressOptions>
    issuer?: TestIssuer
    audit?: boolean
    seal?: boolean
    port?: number
  } = {},
): Promise<GuardedExpress> {
  const issuer = options.issuer ?? (await createTestIssuer())
  const events: AuditEvent[] = []
  const logs: string[] = []
  const guard = createGuard({
    tokens: trustedTokens(issuer),
    logger: capturingLogger(logs),
    ...(options.audit === false ? {} : { audit: (event: AuditEvent) => void events.push(event) }),
    // These suites are about access; response allowlists have their own.
    response: { requireResponse: false },
    ...options.portcullis,
  })
  const app = express()
  await routes(app, guard)
  if (options.seal !== false) guard.seal(app)
  const { server, base } = await listen(app, options.port)
  return {
    app,
    guard,
    issuer,
    events,
    logs,
    base,
    request: (path, init) => fetchReply(base, path, init),
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await guard.close()
    },
  }
}
