// The exposure register, shared by the adapters' suites (test/fastify/register.test.ts and
// test/express/register.test.ts): one app's routes and options, and what the register must say.
import type { RouteGuard } from '@portcullis/core'
import type { InventoryEntry } from '@portcullis/policy'
import { expect } from 'vitest'

export interface RegisterRoute {
  readonly method: 'GET' | 'POST'
  readonly url: string
  readonly guard: RouteGuard
}

export const registerOptions = {
  classify: { 'owner.email': 'pii', uploadIp: 'internal', 'items[].watchedAt': 'pii' },
  knownScopes: ['videos:read', 'videos:internal', 'history:read'],
  rateLimit: { max: 600, timeWindow: '1 minute' },
  policies: { readVideos: { scopes: ['videos:read'], callers: ['player-svc', 'search-svc'] } },
}

export const registerRoutes: readonly RegisterRoute[] = [
  {
    method: 'GET',
    url: '/v1/videos/:id',
    guard: {
      extends: 'readVideos',
      claims: { tenant: { param: 'id' } },
      rateLimit: { max: 100, timeWindow: '1 minute' },
      response: {
        allow: ['id', 'title', 'owner.id', 'owner.email', 'stats.*'],
        byScope: { 'videos:internal': ['uploadIp'] },
        byStatus: { '404': ['code', 'title'] },
      },
    },
  },
  {
    method: 'GET',
    url: '/v1/history',
    guard: {
      scopes: { anyOf: ['history:read', 'videos:internal'] },
      response: {
        allow: ['items[].id', 'items[].watchedAt'],
        maxItems: { default: 50, byScope: { 'videos:internal': 500 } },
      },
    },
  },
  {
    method: 'GET',
    url: '/healthz',
    guard: { public: 'liveness probe', response: { allow: ['ok'] } },
  },
  {
    method: 'GET',
    url: '/v1/me',
    guard: {
      authenticated: true,
      response: { allow: ['sub', 'email'], classify: { email: 'pii' } },
    },
  },
]

/** The handler's body for every route. */
export const registerBody = { ok: true }

/** The register part of inventory rows (what both adapters must agree on), HEAD rows dropped. */
export function registerOf(entries: readonly InventoryEntry[]) {
  return entries
    .filter((e) => e.method !== 'HEAD')
    .map((e) => ({
      route: `${e.method} ${e.url}`,
      access: e.access,
      exposure: e.exposure,
      limits: e.limits,
    }))
}

/** What the shared register case (test/cases/register.ts) must show, on either adapter. */
export function expectRegister(entries: readonly InventoryEntry[]): void {
  const rows = registerOf(entries)
  const byRoute = new Map(rows.map((r) => [r.route, r]))
  const video = byRoute.get('GET /v1/videos/:id')!
  expect(video.access).toMatchObject({
    public: null,
    allOf: ['videos:read'],
    callers: ['player-svc', 'search-svc'],
    claims: { tenant: '= :id' },
  })
  expect(video.exposure.kind).toBe('allowlist')
  expect(video.exposure.classes).toEqual(['internal', 'pii'])
  const success = video.exposure.groups.find((g) => g.status === 'success' && g.scope === null)!
  expect(success.fields).toContainEqual({ path: 'owner.email', class: 'pii' })
  expect(success.fields).toContainEqual({ path: 'title', class: null })
  const internal = video.exposure.groups.find((g) => g.scope === 'videos:internal')!
  expect(internal.fields).toEqual([{ path: 'uploadIp', class: 'internal' }])
  expect(video.exposure.groups.find((g) => g.status === '404')?.fields.map((f) => f.path)).toEqual([
    'code',
    'title',
  ])
  expect(video.limits.rateLimit).toMatchObject({ kind: 'limit', max: 100, timeWindow: 60_000 })

  const history = byRoute.get('GET /v1/history')!
  expect(history.access?.anyOf).toEqual([['history:read', 'videos:internal']])
  expect(history.exposure.maxItems).toEqual({
    default: 50,
    paths: {},
    byScope: { 'videos:internal': { default: 500, paths: {} } },
  })
  expect(history.exposure.groups[0]?.fields).toContainEqual({
    path: 'items[].watchedAt',
    class: 'pii',
  })
  expect(history.limits.rateLimit).toMatchObject({ max: 600, key: 'principal' })

  const health = byRoute.get('GET /healthz')!
  expect(health.access?.public).toBe('liveness probe')
  expect(health.exposure.classes).toEqual([])
  expect(health.limits.rateLimit).toMatchObject({ key: 'ip' })

  // A route's own classify adds to the application's.
  const me = byRoute.get('GET /v1/me')!
  expect(me.exposure.groups[0]?.fields).toContainEqual({ path: 'email', class: 'pii' })
}
