import type { TestIssuer } from '@portcullis/testing'
import { bearer } from '@portcullis/testing'
import type { FastifyInstance } from 'fastify'
import { CALLERS, HISTORY_PAGE } from './app.js'
import { history } from './data.js'

/** One attempt of the tour and what happened to it. */
export interface TourStep {
  attempt: string
  request: string
  expected: 'refused' | 'served' | 'trimmed'
  status: number
  code: string
  /** What the guard did, in words: the fields it removed, how many requests got through. */
  note: string
  /** True when the outcome is the expected one. */
  ok: boolean
  /** The same request against the unguarded service: what it let out. */
  before?: { status: number; note: string }
}

/** What an unguarded answer let out, in words: `200: 300 items, with uploadIp, storagePath`. */
export function leakNote(status: number, body: string): string {
  if (status >= 400) return `${status}: nothing`
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return `${status}`
  }
  const what = Array.isArray(value) ? `${value.length} items` : 'the whole object'
  const fields = LEAK_FIELDS.filter((f) => body.includes(`"${f}"`))
  return `${status}: ${what}${fields.length === 0 ? '' : `, with ${fields.join(', ')}`}`
}

const INTERNAL_FIELDS = ['uploadIp', 'storagePath', 'moderation', 'email']
// What the incident pulled out: internal metadata, and the viewers' devices in their histories.
const LEAK_FIELDS = [...INTERNAL_FIELDS, 'device']

function problemCode(headers: Record<string, unknown>, body: string): string {
  const type = headers['content-type']
  if (typeof type !== 'string' || !type.startsWith('application/problem+json')) return ''
  return String((JSON.parse(body) as { code?: unknown }).code)
}

/** What a walk over many requests took home: requests served, rows received, the last answer. */
interface Walk {
  served: number
  rows: number
  status: number
  code: string
}

async function walk(app: FastifyInstance, token: string, urls: readonly string[]): Promise<Walk> {
  const taken: Walk = { served: 0, rows: 0, status: 0, code: '' }
  for (const url of urls) {
    const res = await app.inject({ url, headers: bearer(token) })
    taken.status = res.statusCode
    taken.code = problemCode(res.headers, res.body)
    if (res.statusCode !== 200) break
    taken.served++
    taken.rows += (JSON.parse(res.body) as { items: unknown[] }).items.length
  }
  return taken
}

/**
 * The incident's attempts, then legitimate calls, replayed against the service, and, when
 * `unguarded` is given (the same service without Portcullis), against it too: the "before".
 * `unlimited` is the same service without its egress budget and enumeration limit: the
 * bulk-extraction steps show what the same token took from it, beside what it takes from `app`.
 */
export async function runTour(
  app: FastifyInstance,
  issuer: TestIssuer,
  unguarded?: FastifyInstance,
  unlimited?: FastifyInstance,
): Promise<TourStep[]> {
  const token = (claims: Record<string, unknown>) => issuer.token(claims)
  const search = await token({
    sub: CALLERS.search,
    client_id: CALLERS.search,
    scope: 'videos:read',
  })
  const steps: TourStep[] = []

  async function attempt(
    name: string,
    url: string,
    auth: string | undefined,
    expected: TourStep['expected'],
    judge?: (body: string, status: number) => { ok: boolean; note: string },
  ): Promise<void> {
    const request = { url, ...(auth === undefined ? {} : { headers: bearer(auth) }) }
    const res = await app.inject(request)
    const code = problemCode(res.headers, res.body)
    const plain = await unguarded?.inject(request)
    const judged = judge?.(res.body, res.statusCode)
    const ok =
      judged?.ok ??
      (expected === 'refused'
        ? res.statusCode >= 400
        : res.statusCode >= 200 && res.statusCode < 300)
    steps.push({
      attempt: name,
      request: `GET ${url}${auth === undefined ? '' : ' (Bearer)'}`,
      expected,
      status: res.statusCode,
      code,
      note: judged?.note ?? '',
      ok,
      ...(plain === undefined
        ? {}
        : { before: { status: plain.statusCode, note: leakNote(plain.statusCode, plain.body) } }),
    })
  }

  // The incident, step by step.
  await attempt('anonymous bulk query', '/v1/videos?limit=300', undefined, 'refused')
  await attempt('anonymous route enumeration', '/v1/internal/export', undefined, 'refused')
  await attempt(
    'token signed with alg: none',
    '/v1/videos/1',
    await issuer.bad.algNone({ sub: 'attacker', client_id: CALLERS.search, scope: 'videos:read' }),
    'refused',
  )
  await attempt(
    "a billing service's token, stolen",
    '/v1/videos/1',
    await token({ sub: 'billing-svc', client_id: 'billing-svc', scope: 'videos:read' }),
    'refused',
  )
  await attempt(
    "a valid token reading another user's history",
    '/v1/users/user-2/history',
    await token({ sub: 'user-1', client_id: CALLERS.player, scope: 'history:read' }),
    'refused',
  )
  await attempt('bulk export in one request', '/v1/videos?limit=300', search, 'refused')
  await attempt(
    'a handler that returns the whole row',
    '/v1/videos/7',
    search,
    'trimmed',
    (body, status) => {
      const leaked = INTERNAL_FIELDS.filter((f) => body.includes(`"${f}"`))
      return {
        ok: status === 200 && leaked.length === 0,
        note:
          leaked.length === 0
            ? 'uploadIp, storagePath, moderation, owner.email removed'
            : `LEAKED ${leaked.join(', ')}`,
      }
    },
  )
  // A scraping loop: one token, every id. The route allows 20 per minute per principal.
  const scraper = await token({ sub: 'scraper', client_id: CALLERS.search, scope: 'videos:read' })
  let served = 0
  let servedBefore = 0
  let last = { status: 0, code: '' }
  for (let id = 1; id <= 30; id++) {
    const request = { url: `/v1/videos/${id}`, headers: bearer(scraper) }
    const res = await app.inject(request)
    if (res.statusCode === 200) served++
    last = { status: res.statusCode, code: problemCode(res.headers, res.body) }
    if ((await unguarded?.inject(request))?.statusCode === 200) servedBefore++
  }
  steps.push({
    attempt: 'a scraping loop over every id',
    request: 'GET /v1/videos/1..30 (Bearer)',
    expected: 'refused',
    status: last.status,
    code: last.code,
    note: `${served} of 30 served, then throttled`,
    ok: served === 20 && last.status === 429,
    ...(unguarded === undefined
      ? {}
      : { before: { status: 200, note: `${servedBefore} of 30 served, whole rows` } }),
  })
  // Bulk extraction with a valid token: the right scope, the right caller, every request
  // acceptable on its own. Pages of all viewing history, then every user's history in turn.
  const reco = (sub: string) =>
    token({ sub, client_id: CALLERS.recommendations, scope: 'history:read' })
  const pages = Array.from(
    { length: Math.ceil(history.length / HISTORY_PAGE) },
    (_, i) => `/v1/internal/history?page=${i + 1}`,
  )
  const users = Array.from({ length: 40 }, (_, i) => `/v1/internal/users/user-${i + 1}/history`)
  for (const [name, request, urls, sub, code] of [
    [
      'a valid token pages through all history',
      'GET /v1/internal/history?page=1..20',
      pages,
      'reco-1',
      'PCL_BUDGET_EXHAUSTED',
    ],
    [
      "a valid token walks every user's history",
      'GET /v1/internal/users/user-1..40/history',
      users,
      'reco-2',
      'PCL_ENUMERATION',
    ],
  ] as const) {
    const stolen = await reco(sub)
    const without = unlimited ?? unguarded
    const before = without === undefined ? null : await walk(without, stolen, urls)
    const after = await walk(app, stolen, urls)
    const took = (w: Walk) => `${w.served} of ${urls.length} requests, ${w.rows} rows`
    steps.push({
      attempt: name,
      request: `${request} (Bearer)`,
      expected: 'refused',
      status: after.status,
      code: after.code,
      note: `with limits: ${took(after)}`,
      ok: after.status === 429 && after.code === code && after.rows <= 100,
      ...(before === null
        ? {}
        : { before: { status: before.status, note: `without limits: ${took(before)}` } }),
    })
  }
  await attempt(
    'the search service reads the moderation queue',
    '/internal/moderation/queue',
    search,
    'refused',
  )

  // Legitimate calls.
  await attempt('health check (public)', '/healthz', undefined, 'served')
  await attempt('the search service reads a video', '/v1/videos/42', search, 'served')
  await attempt('the search service lists videos', '/v1/videos?limit=20', search, 'served')
  await attempt(
    'a user reads their own history through the player',
    '/v1/users/user-1/history',
    await token({ sub: 'user-1', client_id: CALLERS.player, scope: 'history:read' }),
    'served',
  )
  await attempt(
    'the moderation console reads its queue',
    '/internal/moderation/queue',
    await token({ sub: 'mod-1', client_id: CALLERS.moderation, scope: 'moderation:read' }),
    'served',
  )
  return steps
}

/** True when every refused attempt was refused and every legitimate call served. */
export function tourPassed(steps: readonly TourStep[]): boolean {
  return steps.every((s) => s.ok)
}
