import { isPortcullisConfigError, type AuditEvent } from '@portcullis/core'
import type { RequestView } from '@portcullis/core/internal'
import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import {
  acceptsBody,
  bodySummary,
  createBodyRules,
  declaredLength,
  hasBody,
  NO_BODY_RULE,
  planBody,
  type BodyRules,
} from './body-rules.js'
import { fakeView } from './fake-view.js'

const message = (headers: Record<string, string> = {}) => ({ headers }) as IncomingMessage

function viewOf(headers: Record<string, string> = {}, scopes: string[] = []): RequestView {
  return fakeView({
    method: 'POST',
    message: message(headers),
    principal: scopes.length === 0 ? null : { scopes: new Set(scopes), claims: {} },
  })
}

const video = {
  writable: ['title', 'tags[]'],
  byScope: { 'videos:admin': ['ownerId'] },
  maxBytes: 64,
}

function rulesOf(spec: unknown, reportOnly = false) {
  const audits: AuditEvent[] = []
  const rules = createBodyRules(
    planBody(spec, { label: 'POST /videos', knownScopes: undefined }),
    '/videos',
    { realm: undefined, audit: (event) => void audits.push(event) },
    reportOnly,
  ) as BodyRules
  return { rules, audits }
}

describe('which routes take a body', () => {
  it('POST, PUT, PATCH and Express’s ALL, in any case; no other method', () => {
    for (const method of ['POST', 'put', 'Patch', 'ALL']) expect(acceptsBody([method])).toBe(true)
    for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'USE']) {
      expect(acceptsBody([method])).toBe(false)
    }
    expect(acceptsBody(['GET', 'POST'])).toBe(true)
  })

  it('the inventory column, and requireBody refusing a body route without guard.body', () => {
    const rule = planBody({ writable: ['title'] }, { label: 'POST /v', knownScopes: undefined })
    const none = planBody(undefined, { label: 'POST /v', knownScopes: undefined })
    expect(none.rule).toBeNull()
    const site = { label: 'POST /v', methods: ['POST'], requireBody: true }
    expect(bodySummary(rule, site)).toBe('1 field; reject')
    expect(bodySummary(none, { ...site, methods: ['GET'] })).toBeNull()
    expect(bodySummary(none, { ...site, requireBody: false })).toBe(NO_BODY_RULE)
    let thrown: unknown
    try {
      bodySummary(none, site)
    } catch (err) {
      thrown = err
    }
    expect(isPortcullisConfigError(thrown)).toBe(true)
    expect(thrown).toMatchObject({
      code: 'PCL_INVALID_GUARD',
      route: 'POST /v',
      field: 'guard.body',
    })
    expect((thrown as Error).message).toMatch(/^POST \/v: guard\.body is required \(requireBody\)/)
  })

  it('no rules to enforce without guard.body or for a passthrough', () => {
    const context = { realm: undefined, audit: undefined }
    const site = { label: 'POST /v', knownScopes: undefined }
    expect(createBodyRules(planBody(undefined, site), '/v', context, false)).toBeNull()
    const passthrough = planBody({ passthrough: 'file upload' }, site)
    expect(createBodyRules(passthrough, '/v', context, false)).toBeNull()
  })
})

describe('what the headers say', () => {
  it('the declared length: a finite Content-Length, else none', () => {
    expect(declaredLength(message({ 'content-length': '12' }))).toBe(12)
    expect(declaredLength(message())).toBeNull()
    expect(declaredLength(message({ 'content-length': 'twelve' }))).toBeNull()
  })

  it('a body on the wire: chunked, or a Content-Length above 0', () => {
    expect(hasBody(message({ 'transfer-encoding': 'chunked' }))).toBe(true)
    expect(hasBody(message({ 'content-length': '1' }))).toBe(true)
    expect(hasBody(message({ 'content-length': '0' }))).toBe(false)
    expect(hasBody(message({ 'content-length': 'x' }))).toBe(false)
    expect(hasBody(message())).toBe(false)
  })
})

describe('before the body is read (head)', () => {
  it('refuses multipart whatever its case or leading space, and nothing else', () => {
    const { rules, audits } = rulesOf(video)
    for (const type of ['multipart/form-data; boundary=x', 'MULTIPART/mixed', ' multipart/x']) {
      expect(rules.head(viewOf({ 'content-type': type }))).toMatchObject({
        status: 415,
        body: {
          code: 'PCL_BODY_UNREADABLE',
          detail:
            'Multipart request bodies are not read by the guard: this route accepts JSON or form fields',
        },
      })
    }
    expect(rules.head(viewOf({ 'content-type': 'application/json; x=multipart/y' }))).toBeNull()
    expect(audits.map((e) => e.reason)).toEqual(Array(3).fill('PCL_BODY_UNREADABLE'))
    expect(audits[0]).not.toHaveProperty('fields')
  })

  it('refuses a Content-Length above maxBytes with 413, and accepts one at maxBytes', () => {
    const { rules } = rulesOf(video)
    expect(rules.maxBytes).toBe(64)
    expect(rules.head(viewOf({ 'content-length': '64' }))).toBeNull()
    expect(rules.head(viewOf({ 'content-length': '65' }))).toMatchObject({
      status: 413,
      body: { code: 'PCL_BODY_TOO_LARGE', detail: 'The request body is larger than 64 bytes' },
    })
    expect(rules.head(viewOf())).toBeNull()
    const unlimited = rulesOf({ writable: ['title'] }).rules
    expect(unlimited.maxBytes).toBeNull()
    expect(unlimited.head(viewOf({ 'content-length': String(2 ** 40) }))).toBeNull()
  })
})

describe('the parsed body (admit)', () => {
  it('no body parsed: kept when none was sent, refused when one was', () => {
    const { rules } = rulesOf(video)
    expect(rules.admit(viewOf(), undefined, null)).toEqual({ kind: 'keep' })
    expect(rules.admit(viewOf({ 'content-length': '0' }), undefined, 0)).toEqual({ kind: 'keep' })
    expect(rules.admit(viewOf({ 'content-length': '5' }), undefined, null)).toMatchObject({
      kind: 'refuse',
      problem: {
        status: 415,
        body: {
          detail: 'The request body was not parsed into an object the guard can read',
        },
      },
    })
  })

  it('maxBytes against the bytes counted, or the JSON size of a chunked body nobody counted', () => {
    const { rules } = rulesOf(video)
    const body = { title: 'x'.repeat(40) }
    const chunked = { 'transfer-encoding': 'chunked' }
    expect(rules.admit(viewOf(chunked), body, 64)).toEqual({ kind: 'keep' })
    expect(rules.admit(viewOf(chunked), body, 65)).toMatchObject({ problem: { status: 413 } })
    // Declared: the head refused it already, nothing is measured again (its JSON may be longer).
    expect(rules.admit(viewOf({ 'content-length': '60' }), body, null)).toEqual({ kind: 'keep' })
    const longer = { title: 'x'.repeat(60) }
    expect(rules.admit(viewOf({ 'content-length': '60' }), longer, null)).toEqual({ kind: 'keep' })
    // What JSON cannot write (a function) weighs nothing: it is refused as unreadable, not large.
    expect(rules.admit(viewOf(chunked), () => 1, null)).toMatchObject({
      problem: { status: 415, body: { code: 'PCL_BODY_UNREADABLE' } },
    })
    // Without maxBytes nothing is measured.
    const unlimited = rulesOf({ writable: ['title'] }).rules
    expect(unlimited.admit(viewOf(chunked), longer, 10_000)).toEqual({ kind: 'keep' })
    expect(unlimited.admit(viewOf(chunked), longer, null)).toEqual({ kind: 'keep' })
    // Chunked and not counted: its JSON size, 54 bytes here, then 66.
    expect(rules.admit(viewOf(chunked), body, null)).toEqual({ kind: 'keep' })
    const over = { title: 'x'.repeat(52) }
    expect(JSON.stringify(over)).toHaveLength(64)
    expect(rules.admit(viewOf(chunked), over, null)).toEqual({ kind: 'keep' })
    expect(rules.admit(viewOf(chunked), { title: 'x'.repeat(53) }, null)).toMatchObject({
      problem: { status: 413 },
    })
    // A body JSON cannot weigh (a BigInt) is too large, never let through unmeasured.
    expect(rules.admit(viewOf(chunked), { title: 1n }, null)).toMatchObject({
      problem: { status: 413 },
    })
  })

  it('the check: kept, replaced when stripped, refused with the field paths', () => {
    const { rules, audits } = rulesOf(video)
    const body = { title: 't' }
    expect(rules.admit(viewOf(), body, 10)).toEqual({ kind: 'keep' })
    expect(rules.admit(viewOf({}, ['videos:admin']), { ownerId: 'u' }, 10)).toEqual({
      kind: 'keep',
    })
    expect(rules.admit(viewOf(), { ownerId: 'u' }, 10)).toMatchObject({
      kind: 'refuse',
      problem: { status: 403, body: { code: 'PCL_FIELD_NOT_WRITABLE' } },
    })
    expect(audits.at(-1)).toMatchObject({ reason: 'PCL_FIELD_NOT_WRITABLE', fields: ['ownerId'] })
    expect(rules.admit(viewOf(), new Date(0), 10)).toMatchObject({ problem: { status: 415 } })
    expect(audits.at(-1)).not.toHaveProperty('fields')

    const strip = rulesOf({ ...video, unknown: 'strip' }).rules
    expect(strip.admit(viewOf(), { title: 't', role: 'admin' }, 10)).toEqual({
      kind: 'replace',
      body: { title: 't' },
    })
  })

  it('report-only: refusals are audited and the body kept, prototype keys still refused', () => {
    const { rules, audits } = rulesOf(video, true)
    const chunked = viewOf({ 'transfer-encoding': 'chunked' })
    expect(rules.admit(chunked, { ownerId: 'u' }, 10)).toEqual({ kind: 'keep' })
    expect(rules.admit(chunked, { title: 't' }, 100)).toEqual({ kind: 'keep' })
    expect(rules.head(viewOf({ 'content-length': '100' }))).toBeNull()
    expect(rules.unparsed(chunked)).toBeNull()
    expect(audits.map((e) => [e.reason, e.reportOnly])).toEqual([
      ['PCL_FIELD_NOT_WRITABLE', true],
      ['PCL_BODY_TOO_LARGE', true],
      ['PCL_BODY_TOO_LARGE', true],
      ['PCL_BODY_UNREADABLE', true],
    ])
    const proto = JSON.parse('{"__proto__":{"isAdmin":true}}') as unknown
    expect(rules.admit(chunked, proto, 10)).toMatchObject({
      kind: 'refuse',
      problem: { status: 400, body: { code: 'PCL_UNKNOWN_FIELD' } },
    })
    expect(audits.at(-1)).toMatchObject({ reason: 'PCL_UNKNOWN_FIELD', fields: ['__proto__'] })
    expect(audits.at(-1)?.reportOnly).not.toBe(true)
  })

  it('a body that reached the handler unparsed: 415', () => {
    expect(rulesOf(video).rules.unparsed(viewOf())).toMatchObject({
      status: 415,
      body: {
        code: 'PCL_BODY_UNREADABLE',
        detail: 'The request body reached the handler unparsed: the guard cannot read it',
      },
    })
  })
})
