// Request body allowlists (guard.body), shared by the adapters' suites (test/fastify/body.test.ts
// and test/express/body.test.ts) so that both are held to one list. Each case is one route,
// `<method> /b`, whose handler records the body it received; both apps parse JSON with
// JSON.parse (prototype keys arrive as own keys), forms into objects and text into strings.
import type { RouteGuard } from '@portcullis/core'

type Claims = Record<string, unknown>

/** One request to a case's route and how it must be answered. */
export interface BodyRequest {
  readonly claims: Claims | null
  /** The body as sent. */
  readonly body: string
  /** Default `application/json`. */
  readonly contentType?: string
  readonly status: number
  /** The problem+json `code` of a refusal (with a `deny` audit event); the handler never ran. */
  readonly code?: string
  /** The field paths the refusal names, in its `detail` and its audit event's `fields`. */
  readonly fields?: readonly string[]
  /** The body the handler received (JSON-equal). */
  readonly received?: unknown
  /** Report-only: the code of the `deny` audit event (`reportOnly: true`) of a served request. */
  readonly reported?: string
}

export interface BodyCase {
  readonly name: string
  readonly method?: 'POST' | 'PUT' | 'PATCH'
  readonly guard: RouteGuard
  readonly requests: readonly BodyRequest[]
}

const writer: Claims = { sub: 'user-1', scope: 'videos:write' }
const admin: Claims = { sub: 'admin-1', scope: 'videos:write videos:admin' }

const video = {
  writable: ['title', 'description', 'tags[]', 'chapters[].title'],
  byScope: { 'videos:admin': ['visibility', 'ownerId', 'chapters[].internal'] },
}
const guard = (body: NonNullable<RouteGuard['body']>, extra: RouteGuard = {}): RouteGuard => ({
  scopes: ['videos:write'],
  body,
  ...extra,
})

const json = (value: unknown) => JSON.stringify(value)
const form = 'application/x-www-form-urlencoded'
const notWritable = { status: 403, code: 'PCL_FIELD_NOT_WRITABLE' } as const
const unknownField = { status: 400, code: 'PCL_UNKNOWN_FIELD' } as const
const unreadable = { status: 415, code: 'PCL_BODY_UNREADABLE' } as const

export const bodyCases: readonly BodyCase[] = [
  {
    name: 'writable fields reach the handler as sent',
    guard: guard(video),
    requests: [
      {
        claims: writer,
        body: json({ title: 't', tags: ['a'], chapters: [{ title: 'c' }] }),
        status: 200,
        received: { title: 't', tags: ['a'], chapters: [{ title: 'c' }] },
      },
    ],
  },
  {
    name: 'a field only a scope can write: 403 PCL_FIELD_NOT_WRITABLE naming it, never its value',
    guard: guard(video),
    requests: [
      {
        claims: writer,
        body: json({ title: 't', ownerId: 'someone-else', visibility: 'public' }),
        ...notWritable,
        fields: ['ownerId', 'visibility'],
      },
    ],
  },
  {
    name: 'a scope widens the writable set',
    guard: guard(video),
    requests: [
      {
        claims: admin,
        body: json({ title: 't', ownerId: 'user-2', visibility: 'public' }),
        status: 200,
        received: { title: 't', ownerId: 'user-2', visibility: 'public' },
      },
    ],
  },
  {
    name: 'nested arrays: chapters[].title is writable, chapters[].internal only with the scope',
    method: 'PATCH',
    guard: guard(video),
    requests: [
      {
        claims: writer,
        body: json({ chapters: [{ title: 'a' }, { title: 'b', internal: 'x' }] }),
        ...notWritable,
        fields: ['chapters[].internal'],
      },
      {
        claims: admin,
        body: json({ chapters: [{ title: 'a' }, { title: 'b', internal: 'x' }] }),
        status: 200,
        received: { chapters: [{ title: 'a' }, { title: 'b', internal: 'x' }] },
      },
    ],
  },
  {
    name: "a field no rule names: 400 PCL_UNKNOWN_FIELD (unknown: 'reject', the default)",
    method: 'PUT',
    guard: guard(video),
    requests: [
      {
        claims: admin,
        body: json({ title: 't', role: 'admin', chapters: [{ title: 'c', at: 3 }] }),
        ...unknownField,
        fields: ['role', 'chapters[].at'],
      },
    ],
  },
  {
    name: "unknown: 'strip' removes undeclared fields before the handler",
    guard: guard({ ...video, unknown: 'strip' }),
    requests: [
      {
        claims: writer,
        body: json({ title: 't', role: 'admin', chapters: [{ title: 'c', at: 3 }] }),
        status: 200,
        received: { title: 't', chapters: [{ title: 'c' }] },
      },
      {
        claims: writer,
        body: json({ title: 't', role: 'admin', ownerId: 'x' }),
        ...notWritable,
        fields: ['ownerId'],
      },
    ],
  },
  {
    name: '__proto__ from JSON.parse never passes, whatever the rule',
    guard: guard({ writable: ['title', 'settings.*'], unknown: 'strip' }),
    requests: [
      {
        claims: writer,
        body: '{"title":"t","__proto__":{"isAdmin":true}}',
        ...unknownField,
        fields: ['__proto__'],
      },
      {
        claims: writer,
        body: '{"settings":{"constructor":{"prototype":{"isAdmin":true}}}}',
        ...unknownField,
        fields: ['settings.constructor'],
      },
    ],
  },
  {
    name: 'urlencoded bodies are checked like JSON ones',
    guard: guard(video),
    requests: [
      {
        claims: writer,
        body: 'title=t&description=d',
        contentType: form,
        status: 200,
        received: { title: 't', description: 'd' },
      },
      { claims: writer, body: 'title=t&ownerId=x', contentType: form, ...notWritable },
      { claims: writer, body: 'title=t&role=admin', contentType: form, ...unknownField },
    ],
  },
  {
    name: 'multipart bodies are refused before they are read',
    guard: guard(video),
    requests: [
      {
        claims: writer,
        body: '--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n--x--\r\n',
        contentType: 'multipart/form-data; boundary=x',
        ...unreadable,
      },
      {
        claims: writer,
        body: '--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n--x--\r\n',
        contentType: 'Multipart/Form-Data; boundary=x',
        ...unreadable,
      },
    ],
  },
  {
    name: 'a body parsed into a string (text/plain) is refused as unreadable',
    guard: guard(video),
    requests: [{ claims: writer, body: 'title=t', contentType: 'text/plain', ...unreadable }],
  },
  {
    name: 'a body of another shape than the rule: 400 naming the body',
    guard: guard(video),
    requests: [
      { claims: writer, body: json([{ title: 't' }]), ...unknownField, fields: ['(body)'] },
      { claims: writer, body: json({ title: { $ne: null } }), ...unknownField },
    ],
  },
  {
    name: 'maxBytes: a Content-Length over it is refused with 413',
    guard: guard({ ...video, maxBytes: 64 }),
    requests: [
      { claims: writer, body: json({ title: 't' }), status: 200, received: { title: 't' } },
      {
        claims: writer,
        body: json({ title: 'x'.repeat(100) }),
        status: 413,
        code: 'PCL_BODY_TOO_LARGE',
      },
    ],
  },
  {
    name: 'passthrough: the body is not inspected',
    guard: guard({ passthrough: 'legacy import, validated by the importer' }),
    requests: [
      {
        claims: writer,
        body: json({ anything: true, ownerId: 'x' }),
        status: 200,
        received: { anything: true, ownerId: 'x' },
      },
    ],
  },
  {
    name: 'a request without a body passes',
    guard: guard(video),
    requests: [{ claims: writer, body: '', status: 200 }],
  },
  {
    name: 'the body is checked after the access decision: no token is still 401',
    guard: guard(video),
    requests: [
      { claims: null, body: json({ ownerId: 'x' }), status: 401, code: 'PCL_TOKEN_MISSING' },
    ],
  },
  {
    name: 'report-only: a refusal is audited, and the body served as it came',
    guard: guard(video, { reportOnly: true }),
    requests: [
      {
        claims: writer,
        body: json({ title: 't', ownerId: 'x' }),
        status: 200,
        received: { title: 't', ownerId: 'x' },
        reported: 'PCL_FIELD_NOT_WRITABLE',
      },
      {
        claims: writer,
        body: '{"__proto__":{"isAdmin":true}}',
        ...unknownField,
        fields: ['__proto__'],
      },
    ],
  },
]
