// The checks both adapters' suites run on the shared cases, over one view of a response, so that
// each case is held to exactly the same expectations on Fastify and on Express.
import { connect } from 'node:net'
import type { AuditEvent } from '@portcullis/core'
import type { InventoryEntry } from '@portcullis/policy'
import { bearer } from '@portcullis/testing'
import { expect } from 'vitest'
import type { AccessRequest } from './access.js'
import type { BodyRequest } from './bodies.js'
import type { LimitStep } from './rate-limits.js'
import type { EgressCase, EgressStep } from './egress.js'
import type { ResponseRequest } from './responses.js'
import type { QueryTokenCase, Refusal, TokenApp } from './tokens.js'

/** A response as the shared checks read it, whatever client made the request. */
export interface CaseReply {
  readonly status: number
  /** A header's value, `null` when absent. */
  header(name: string): string | null
  readonly body: string
}

/** A response of Fastify's `app.inject()`. */
export function injected(res: {
  statusCode: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
}): CaseReply {
  return {
    status: res.statusCode,
    header: (name) => {
      const value = res.headers[name.toLowerCase()]
      if (value === undefined) return null
      return Array.isArray(value) ? value.join(', ') : String(value)
    },
    body: res.body,
  }
}

/** A response read with `fetch`. */
export function fetched(res: { status: number; headers: Headers; body: string }): CaseReply {
  return { status: res.status, header: (name) => res.headers.get(name), body: res.body }
}

function json(reply: CaseReply): Record<string, unknown> {
  return JSON.parse(reply.body) as Record<string, unknown>
}

/** Where a token must never appear: the response, the audit events, the log lines. */
export interface Leaks {
  readonly token: string
  readonly events: readonly AuditEvent[]
  readonly logs: readonly string[]
}

/**
 * A refused request: its status, problem+json code and exact challenge, and the raw token (and
 * its signature) nowhere in the response, the audit events or the logs.
 */
export function expectRefusal(reply: CaseReply, expected: Refusal, leaks: Leaks): void {
  expect(reply.status).toBe(expected.status)
  expect(reply.header('content-type')).toBe('application/problem+json')
  expect(json(reply)).toMatchObject({ code: expected.code, status: expected.status })
  if (expected.challenge === undefined) expect(reply.header('www-authenticate')).toBeNull()
  else expect(reply.header('www-authenticate')).toMatch(expected.challenge)
  const { token } = leaks
  if (token.length === 0) return
  const logs = leaks.logs.join('\n')
  expect(reply.body).not.toContain(token)
  expect(logs).not.toContain(token)
  expect(JSON.stringify(leaks.events)).not.toContain(token)
  const signature = token.split('.')[2] ?? token
  if (signature.length > 10) expect(logs).not.toContain(signature)
}

/**
 * A request the guard must refuse (by default `GET /v1/videos/1` with `token` as a Bearer token):
 * {@link expectRefusal}, and no handler ran.
 */
export async function expectRefusedRequest(
  app: TokenApp,
  token: string,
  expected: Refusal,
  request: { url?: string; headers?: Record<string, string> } = {},
): Promise<void> {
  const before = app.runs()
  const reply = await app.get(request.url ?? '/v1/videos/1', request.headers ?? bearer(token))
  expectRefusal(reply, expected, { token, events: app.events, logs: app.logs })
  expect(app.runs()).toBe(before)
}

/** One request of an access case; `last` is the latest audit event. */
export function expectAccess(
  reply: CaseReply,
  request: AccessRequest,
  hidden: readonly string[],
  last: AuditEvent | undefined,
): void {
  expect(reply.status, `${request.url} ${JSON.stringify(request.claims)}`).toBe(request.status)
  if (request.code !== undefined) {
    expect(reply.header('content-type')).toBe('application/problem+json')
    expect(json(reply)).toMatchObject({ code: request.code, status: request.status })
    expect(last).toMatchObject({ decision: 'deny', reason: request.code })
  }
  if (request.challenge === null) expect(reply.header('www-authenticate')).toBeNull()
  else if (request.challenge !== undefined) {
    expect(reply.header('www-authenticate')).toBe(request.challenge)
  }
  for (const secret of hidden) expect(reply.body).not.toContain(secret)
}

/** One step of a rate-limit case. */
export function expectLimitStep(reply: CaseReply, step: LimitStep, index: number): void {
  expect(reply.status, `step ${index}`).toBe(step.status)
  for (const [name, value] of Object.entries(step.headers ?? {})) {
    expect(reply.header(name), `step ${index}: ${name}`).toBe(value)
  }
  if (step.status === 429 && step.method !== 'HEAD') {
    expect(json(reply)).toMatchObject({ code: 'PCL_RATE_LIMITED' })
  }
  expect(reply.body).not.toContain('secret')
}

/** What a rate-limit case ends with: handler runs, denials, the inventory's column. */
export function expectLimitOutcome(
  outcome: {
    runs?: number | undefined
    denials?: readonly string[] | undefined
    inventory?: Readonly<Record<string, string>> | undefined
  },
  actual: { runs: number; events: readonly AuditEvent[]; routes: readonly InventoryEntry[] },
): void {
  if (outcome.runs !== undefined) expect(actual.runs).toBe(outcome.runs)
  const denied = actual.events.filter((e) => e.decision === 'deny').map((e) => e.reason)
  if (outcome.denials !== undefined) expect(denied).toEqual(outcome.denials)
  const rows = actual.routes.map((r) => [`${r.method} ${r.url}`, r.rateLimit])
  if (outcome.inventory !== undefined) {
    expect(Object.fromEntries(rows)).toMatchObject(outcome.inventory)
  }
}

/** One request of a response case; `last` is the latest audit event. */
export function expectResponse(
  reply: CaseReply,
  request: ResponseRequest,
  last: AuditEvent | undefined,
): void {
  expect(reply.status).toBe(request.status)
  if (request.body !== undefined) expect(JSON.parse(reply.body)).toEqual(request.body)
  if (request.code !== undefined) {
    expect(json(reply)).toMatchObject({ code: request.code })
    expect(last).toMatchObject({ decision: 'deny', reason: request.code, route: '/r' })
    expect([...(last?.undeclaredFields ?? [])].sort()).toEqual(
      [...(request.undeclaredFields ?? [])].sort(),
    )
    expect(last?.notOwned).toBe(request.notOwned)
  } else if (request.notOwned !== undefined && request.notOwned > 0) {
    expect(last).toMatchObject({
      decision: 'allow',
      reason: 'PCL_NOT_OWNED',
      route: '/r',
      notOwned: request.notOwned,
    })
  } else if (request.notOwned === 0) {
    expect(last?.reason).not.toBe('PCL_NOT_OWNED')
  }
  // Paths, never values: nothing the body carried reaches the event.
  for (const value of ['user1@corp.example', '10.0.0.7', 's3://videos-internal', 'internal']) {
    expect(JSON.stringify(last ?? {})).not.toContain(value)
  }
}

/**
 * The inventory of an app serving `GET /healthz` (public, 'liveness probe') and
 * `GET /v1/videos/:id` (guarded with `policy`): HEAD rows included, sorted, frozen.
 */
export function expectInventory(routes: readonly InventoryEntry[], policy: string): void {
  expect(routes.map((r) => `${r.method} ${r.url}`)).toEqual([
    'GET /healthz',
    'HEAD /healthz',
    'GET /v1/videos/:id',
    'HEAD /v1/videos/:id',
  ])
  expect(routes[0]).toMatchObject({ guarded: true, public: 'liveness probe', policy: null })
  expect(routes[2]).toMatchObject({ guarded: true, public: null, policy })
  expect(Object.isFrozen(routes)).toBe(true)
  expect(Object.isFrozen(routes[0])).toBe(true)
}

/** A query-string token case; the token appears in no response and no audit event. */
export function expectQueryToken(
  reply: CaseReply,
  c: QueryTokenCase,
  token: string,
  events: readonly AuditEvent[],
): void {
  expect(reply.status).toBe(c.status)
  if (c.code !== undefined) expect(json(reply)).toMatchObject({ code: c.code })
  if (c.code === 'PCL_INVALID_REQUEST') {
    expect(reply.header('www-authenticate')).toMatch(/error="invalid_request"/)
  }
  expect(reply.body).not.toContain(token)
  expect(JSON.stringify(events)).not.toContain(token)
}

/** The answer to two Authorization headers: 400 invalid_request, without the token. */
export function expectDuplicateRefused(
  reply: { status: number; body: string },
  token: string,
): void {
  expect(reply.status).toBe(400)
  expect(JSON.parse(reply.body)).toMatchObject({ code: 'PCL_INVALID_REQUEST' })
  expect(reply.body).not.toContain(token)
}

/** Sends raw bytes on a socket (what fetch will not send: duplicate headers) and reads the reply. */
export function rawRequest(port: number, bytes: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
    let data = ''
    socket.on('data', (chunk: Buffer) => (data += chunk.toString()))
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1])
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) })
    })
    socket.on('error', reject)
  })
}

/** What a body case's route saw: the handler's runs and the last body it received. */
export interface BodyRoute {
  readonly runs: number
  readonly seen: unknown
}

/**
 * One request of a body case: its status; for a refusal, the problem+json code, the field paths
 * named in `detail` and in the `deny` audit event (never a value), and no handler run; for a
 * served request, the body the handler received.
 */
export function expectBodyRequest(
  reply: CaseReply,
  request: BodyRequest,
  route: { readonly before: BodyRoute; readonly after: BodyRoute },
  last: AuditEvent | undefined,
): void {
  const label = `${request.body.slice(0, 60)} (${request.contentType ?? 'application/json'})`
  expect(reply.status, label).toBe(request.status)
  if (request.code !== undefined) {
    expect(reply.header('content-type')).toBe('application/problem+json')
    const problem = json(reply)
    expect(problem).toMatchObject({ code: request.code, status: request.status })
    expect(route.after.runs, `${label}: the handler ran`).toBe(route.before.runs)
    expect(last).toMatchObject({ decision: 'deny', reason: request.code, reportOnly: false })
    for (const field of request.fields ?? []) {
      if (field !== '(body)') expect(String(problem.detail)).toContain(field)
    }
    if (request.fields !== undefined) expect(last?.fields).toEqual(request.fields)
    for (const secret of ['someone-else', 'isAdmin']) {
      expect(reply.body).not.toContain(secret)
      expect(JSON.stringify(last)).not.toContain(secret)
    }
    return
  }
  expect(route.after.runs, `${label}: the handler did not run`).toBe(route.before.runs + 1)
  if (request.received !== undefined) expect(route.after.seen).toEqual(request.received)
  if (request.reported !== undefined) {
    expect(last).toMatchObject({ decision: 'deny', reason: request.reported, reportOnly: true })
  }
}

/** One step of an egress case (test/cases/egress.ts). */
export function expectEgressStep(reply: CaseReply, step: EgressStep, index: number): void {
  expect(reply.status, `step ${index} ${step.url}`).toBe(step.status)
  for (const [name, value] of Object.entries(step.headers ?? {})) {
    expect(reply.header(name), `step ${index}: ${name}`).toBe(value)
  }
  if (step.code !== undefined) {
    expect(reply.header('content-type')).toBe('application/problem+json')
    expect(json(reply)).toMatchObject({ code: step.code, status: step.status })
  }
  // The allowlist ran: what the handler held back never leaves.
  expect(reply.body).not.toContain('never leaves')
}

/** What an egress case ends with: handler runs, denials, the inventory's columns. */
export function expectEgressOutcome(
  outcome: { [K in 'runs' | 'denials' | 'inventory']: EgressCase[K] | undefined },
  actual: { runs: number; events: readonly AuditEvent[]; routes: readonly InventoryEntry[] },
): void {
  if (outcome.runs !== undefined) expect(actual.runs).toBe(outcome.runs)
  const denied = actual.events.filter((e) => e.decision === 'deny').map((e) => e.reason)
  if (outcome.denials !== undefined) expect(denied).toEqual(outcome.denials)
  for (const [row, columns] of Object.entries(outcome.inventory ?? {})) {
    const entry = actual.routes.find((r) => `${r.method} ${r.url}` === row)
    expect(entry, row).toBeDefined()
    expect(entry).toMatchObject(columns)
  }
}

/** Mints one token per set of claims and reuses it: the verified-token cache keeps tests fast. */
export function cachedTokens(issuer: {
  token(claims: Record<string, unknown>): Promise<string>
}): (claims: Record<string, unknown>) => Promise<string> {
  const tokens = new Map<string, Promise<string>>()
  return (claims) => {
    const id = JSON.stringify(claims)
    let token = tokens.get(id)
    if (token === undefined) {
      token = issuer.token(claims)
      tokens.set(id, token)
    }
    return token
  }
}
