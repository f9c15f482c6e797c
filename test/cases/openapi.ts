// OpenAPI from the guards, shared by the adapters' suites (test/fastify/openapi.test.ts and
// test/express/openapi.test.ts): the same routes on both, and what each operation must say.
import type { RouteGuard } from '@portcullis/core'
import { Validator } from '@seriousme/openapi-schema-validator'
import { expect } from 'vitest'

export interface OpenApiRoute {
  readonly method: 'GET' | 'POST'
  readonly url: string
  readonly guard: RouteGuard
}

export const openApiRoutes: readonly OpenApiRoute[] = [
  {
    method: 'GET',
    url: '/v1/videos/:id',
    guard: {
      scopes: ['videos:read'],
      callers: ['search-svc'],
      claims: { tenant: 'acme-secret-tenant' },
      response: { allow: ['id', 'title', 'owner.id', 'tags[]', 'stats.*'] },
    },
  },
  {
    method: 'GET',
    url: '/v1/videos',
    guard: {
      scopes: { allOf: ['catalog'], anyOf: ['videos:read', 'videos:admin'] },
      rateLimit: { max: 10, timeWindow: '1 minute' },
      response: {
        allow: ['[].id', '[].title', '[].chapters[].start'],
        byScope: { 'videos:admin': ['[].uploadIp'] },
        maxItems: { default: 50, paths: { '[].chapters[]': 20 } },
      },
    },
  },
  {
    method: 'POST',
    url: '/v1/videos',
    guard: {
      scopes: 'videos:write',
      body: { writable: ['title'] },
      response: { allow: ['id'] },
    },
  },
  {
    method: 'GET',
    url: '/v1/me',
    guard: { authenticated: true, rateLimit: { exempt: 'cheap' }, response: { allow: ['sub'] } },
  },
  {
    method: 'GET',
    url: '/healthz',
    guard: {
      public: 'liveness probe',
      rateLimit: { exempt: 'probe' },
      response: { allow: ['ok'] },
    },
  },
]

/** The options both apps share: a default rate limit, so that 429 is documented where it applies. */
export const openApiOptions = {
  knownScopes: ['catalog', 'videos:read', 'videos:admin', 'videos:write'],
  rateLimit: { max: 600, timeWindow: '1 minute' },
} as const

/** An OAuth2 scheme declared by the application. */
export const oauth2Scheme = {
  type: 'oauth2',
  flows: {
    clientCredentials: {
      tokenUrl: 'https://auth.internal/token',
      scopes: {
        catalog: 'browse the catalog',
        'videos:read': 'read videos',
        'videos:admin': 'administer videos',
        'videos:write': 'upload videos',
      },
    },
  },
} as const

const problemRef = { $ref: '#/components/schemas/PortcullisProblem' }

/** A problem+json response of the document. */
export const problemContent = { 'application/problem+json': { schema: problemRef } }

/** Validates a document against the OpenAPI 3 schema (`@seriousme/openapi-schema-validator`). */
export async function expectValidDocument(document: unknown): Promise<void> {
  const validator = new Validator()
  const result = await validator.validate(document as Record<string, unknown>)
  expect(result.errors ?? []).toEqual([])
  expect(result.valid).toBe(true)
  // Every reference the guards wrote resolves.
  const text = JSON.stringify(document)
  for (const [, name] of text.matchAll(/"#\/components\/schemas\/([^"]+)"/gu)) {
    expect((document as { components: { schemas: object } }).components.schemas).toHaveProperty([
      name!,
    ])
  }
}

type Operation = { security?: unknown; responses: Record<string, any> }

/** The operations of a document or fragment, by `METHOD /path`. */
export function operations(document: {
  paths: Record<string, Record<string, unknown>>
}): Map<string, Operation> {
  const found = new Map<string, Operation>()
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      found.set(`${method.toUpperCase()} ${path}`, operation as Operation)
    }
  }
  return found
}

/** What each operation must say with the OAuth2 scheme `oauth2`. */
export function expectGuardsWritten(found: Map<string, Operation>, scheme: string): void {
  const read = found.get('GET /v1/videos/{id}')!
  expect(read.security).toEqual([{ [scheme]: ['videos:read'] }])
  expect(read.responses['401']).toMatchObject({ content: problemContent })
  expect(read.responses['401']).toHaveProperty(['headers', 'WWW-Authenticate'])
  expect(read.responses['403']).toMatchObject({
    description: expect.stringContaining('a caller (client) the route admits') as unknown,
    content: problemContent,
  })
  expect(read.responses['403'].description).toContain('claims tenant')
  expect(read.responses['429']).toMatchObject({ content: problemContent })
  // The client ids and claim values a route admits stay out of the document.
  const text = JSON.stringify(Object.fromEntries(found))
  expect(text).not.toContain('search-svc')
  expect(text).not.toContain('acme-secret-tenant')
  // all-of and any-of: one alternative per any-of choice, each with the all-of scopes.
  expect(found.get('GET /v1/videos')!.security).toEqual([
    { [scheme]: ['catalog', 'videos:admin'] },
    { [scheme]: ['catalog', 'videos:read'] },
  ])
  expect(found.get('POST /v1/videos')!.security).toEqual([{ [scheme]: ['videos:write'] }])
  // Any valid token: the scheme without scopes; exempt from the rate limit: no 429.
  const me = found.get('GET /v1/me')!
  expect(me.security).toEqual([{ [scheme]: [] }])
  expect(me.responses).toHaveProperty('401')
  expect(me.responses).toHaveProperty('403')
  expect(me.responses).not.toHaveProperty('429')
  // Public: no requirement at all, no 401 or 403.
  const health = found.get('GET /healthz')!
  expect(health.security).toEqual([])
  expect(health.responses).not.toHaveProperty('401')
  expect(health.responses).not.toHaveProperty('403')
  expect(health.responses).not.toHaveProperty('429')
}

/** The 200 schema of `GET /v1/videos` narrowed to its allowlist. */
export const narrowedList = {
  type: 'array',
  maxItems: 50,
  items: {
    type: 'object',
    additionalProperties: false,
    properties: {
      chapters: {
        type: 'array',
        maxItems: 20,
        items: {
          type: 'object',
          additionalProperties: false,
          properties: { start: {} },
        },
      },
      id: {},
      title: {},
      uploadIp: {},
    },
  },
}

/** The 200 schema of `GET /v1/videos/:id` narrowed to its allowlist. */
export const narrowedVideo = {
  type: 'object',
  additionalProperties: false,
  properties: {
    id: {},
    owner: { type: 'object', additionalProperties: false, properties: { id: {} } },
    stats: { type: 'object', properties: {} },
    tags: { type: 'array', items: {} },
    title: {},
  },
}
