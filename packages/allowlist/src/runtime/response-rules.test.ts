import { isPortcullisConfigError, type AuditEvent, type RenderedProblem } from '@portcullis/core'
import type { GuardSpan, Meter, RequestView, Telemetry } from '@portcullis/core/internal'
import { describe, expect, it, vi } from 'vitest'
import {
  createResponseRules,
  errorBodiesOnly,
  planResponse,
  type ResponseRules,
} from './response-rules.js'
import { fakeView } from './fake-view.js'

const site = { label: 'GET /videos', requireResponse: true, knownScopes: undefined }

function rulesOf(response: unknown, meters: readonly Meter[] = [], audits: AuditEvent[] = []) {
  return createResponseRules(
    planResponse(response, { ...site, requireResponse: false }, errorBodiesOnly()),
    '/videos',
    { realm: undefined, audit: (event) => void audits.push(event) },
    1024,
    meters,
  )
}

const view = fakeView()

const row = { id: 1, title: 'T', ownerEmail: 'a@example.com' }
const projected = { id: 1, title: 'T' }
const allow = { allow: ['id', 'title'] }
const tooMany: RenderedProblem = {
  status: 429,
  headers: { 'content-type': 'application/problem+json' },
  body: { type: 'about:blank', title: 'Too Many Requests', status: 429, code: 'PCL_RATE_LIMITED' },
}

describe('planResponse', () => {
  it('a route without guard.response: a startup error naming it, or error bodies only', () => {
    let thrown: unknown
    try {
      planResponse(undefined, site, errorBodiesOnly())
    } catch (err) {
      thrown = err
    }
    expect(isPortcullisConfigError(thrown)).toBe(true)
    expect(thrown).toMatchObject({
      code: 'PCL_INVALID_GUARD',
      route: 'GET /videos',
      field: 'guard.response',
    })
    expect((thrown as Error).message).toMatch(/^GET \/videos: guard\.response is required/)

    const errorsOnly = errorBodiesOnly()
    const plan = planResponse(undefined, { ...site, requireResponse: false }, errorsOnly)
    expect(plan).toEqual({
      allowlist: errorsOnly,
      successBodies: false,
      summary: 'NONE: success bodies are not allowlisted',
      exposure: { kind: 'none' },
    })
  })

  it('a route with guard.response: its allowlist, summary and exposure', () => {
    const plan = planResponse(allow, site, errorBodiesOnly())
    expect(plan.successBodies).toBe(true)
    expect(plan.summary).toBe(plan.allowlist.summary)
    expect(plan.exposure).toBe(plan.allowlist.exposure)
  })
})

describe('what the response rules exempt', () => {
  it('success bodies of a passthrough route or a route without an allowlist; never an error body', () => {
    const cases: [ResponseRules, boolean][] = [
      [rulesOf(allow), false],
      [rulesOf({ passthrough: 'file download' }), true],
      [rulesOf(undefined), true],
    ]
    for (const [rules, success] of cases) {
      expect(rules.exempt(200)).toBe(success)
      expect(rules.exempt(399)).toBe(success)
      expect(rules.exempt(400)).toBe(false)
      expect(rules.exempt(500)).toBe(false)
    }
  })
})

describe('what the projection keeps', () => {
  it('an exempt body is kept as it is, value or text', () => {
    const rules = rulesOf({ passthrough: 'legacy payload' })
    expect(rules.project(view, 200, row)).toEqual({ kind: 'keep' })
    expect(rules.value(view, 200, row)).toEqual({ kind: 'keep' })
    expect(rules.serialized(view, 200, JSON.stringify(row), 'application/json')).toEqual({
      kind: 'keep',
    })
    expect(rules.project(view, 500, { title: 'Oops', stack: 'x' })).toEqual({
      kind: 'replace',
      value: { title: 'Oops' },
    })
  })

  it('objects of other principals: one allow event counting them, or only the refusal', () => {
    const owned = (mode: 'strip' | 'reject', audits: AuditEvent[]) =>
      rulesOf(
        {
          allow: ['items[].id', 'items[].ownerId'],
          owner: { path: 'items[].ownerId', claim: 'sub', mode },
        },
        [],
        audits,
      )
    const principal = { claims: { sub: 'u1' }, scopes: new Set<string>() }
    const mine = { ...view, principal } as unknown as RequestView
    const list = {
      items: [
        { id: 1, ownerId: 'u1' },
        { id: 2, ownerId: 'u2' },
      ],
    }
    const stripped: AuditEvent[] = []
    expect(owned('strip', stripped).project(mine, 200, list)).toEqual({
      kind: 'replace',
      value: { items: [{ id: 1, ownerId: 'u1' }] },
    })
    expect(owned('strip', stripped).project(mine, 200, { items: [list.items[0]] })).toMatchObject({
      kind: 'replace',
    })
    expect(stripped.map((e) => [e.decision, e.reason, e.notOwned])).toEqual([
      ['allow', 'PCL_NOT_OWNED', 1],
    ])
    const refused: AuditEvent[] = []
    expect(owned('reject', refused).project(mine, 200, list)).toMatchObject({ kind: 'refuse' })
    expect(refused.map((e) => [e.decision, e.reason, e.notOwned])).toEqual([
      ['deny', 'PCL_RESPONSE_REJECTED', 1],
    ])
  })
})

describe('values the guard cannot read whole', () => {
  it('null, arrays and iterables that are no iterators (a Map, a Set) are projected', () => {
    const rules = rulesOf({ allow: ['id', '[].id'] })
    expect(rules.project(view, 200, null)).toEqual({ kind: 'replace', value: null })
    expect(rules.project(view, 200, undefined)).toMatchObject({ kind: 'replace' })
    expect(rules.project(view, 200, [{ id: 1, x: 2 }])).toEqual({
      kind: 'replace',
      value: [{ id: 1 }],
    })
    expect(rules.project(view, 200, new Map([['id', 1]]))).toMatchObject({ kind: 'replace' })
    expect(rules.project(view, 200, new Set([1]))).toMatchObject({ kind: 'replace' })
    // An object with a `next` method that cannot be iterated (a cursor) is an object like others.
    expect(rules.project(view, 200, { id: 1, next() {} })).toEqual({
      kind: 'replace',
      value: { id: 1 },
    })
  })

  it('a body whose release throws, or an async generator whose finally throws, is refused all the same', async () => {
    const audits: AuditEvent[] = []
    const rules = rulesOf(allow, [], audits)
    const stream = {
      pipe() {},
      destroy() {
        throw new Error('already closed')
      },
    }
    expect(rules.project(view, 200, stream)).toMatchObject({ kind: 'refuse' })
    async function* failing() {
      try {
        yield row
      } finally {
        // eslint-disable-next-line no-unsafe-finally
        throw new Error('cleanup failed')
      }
    }
    const generator = failing()
    await generator.next()
    expect(rules.project(view, 200, generator)).toMatchObject({ kind: 'refuse' })
    // The rejected `return()` is caught: vitest fails the file on an unhandled rejection.
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(audits.map((e) => e.reason)).toEqual(['PCL_RESPONSE_REJECTED', 'PCL_RESPONSE_REJECTED'])
    // A refusal that names no field carries none in its event.
    expect(audits[0]).not.toHaveProperty('undeclaredFields')
    expect(audits[0]).not.toHaveProperty('notOwned')
  })

  it('a web ReadableStream is refused unread and cancelled, locked or not', async () => {
    const rules = rulesOf(allow)
    const cancelled: string[] = []
    const streamOf = (name: string): ReadableStream<string> =>
      new ReadableStream<string>({
        pull(controller) {
          controller.enqueue(JSON.stringify(row))
        },
        cancel() {
          cancelled.push(name)
        },
      })
    const free = streamOf('free')
    expect(rules.project(view, 200, free)).toMatchObject({
      kind: 'refuse',
      problem: { status: 500, body: { code: 'PCL_RESPONSE_REJECTED' } },
    })
    const locked = streamOf('locked')
    const reader = locked.getReader()
    expect(rules.project(view, 200, locked)).toMatchObject({ kind: 'refuse' })
    expect(rules.serialized(view, 200, streamOf('sent'), 'application/json')).toMatchObject({
      kind: 'refuse',
    })
    // The locked stream's cancel() rejects; vitest would fail the file on an unhandled one.
    await vi.waitFor(() => expect(cancelled.sort()).toEqual(['free', 'sent']))
    reader.releaseLock()
  })

  it('a serialized payload that is neither text nor bytes is refused and released', () => {
    const rules = rulesOf(allow)
    const destroy = vi.fn()
    expect(rules.serialized(view, 200, { pipe() {}, destroy }, 'application/json')).toMatchObject({
      kind: 'refuse',
      problem: { status: 500, body: { code: 'PCL_RESPONSE_REJECTED' } },
    })
    expect(destroy).toHaveBeenCalledOnce()
    for (const empty of [null, undefined, '', new Uint8Array(0)]) {
      expect(rules.serialized(view, 200, empty, 'text/html')).toEqual({ kind: 'keep' })
    }
  })
})

describe('the meters (egress budgets)', () => {
  const charged = (answer: RenderedProblem | null | Promise<RenderedProblem | null>) =>
    vi.fn<Meter>(() => answer)

  it('are charged what the projection lets out, the text too when the guard serialized it', async () => {
    const meter = charged(null)
    const rules = rulesOf(allow, [meter])
    expect(rules.value(view, 200, row)).toEqual({ kind: 'replace', value: projected })
    expect(meter).toHaveBeenLastCalledWith(view, 200, { value: projected, text: undefined })
    const text = JSON.stringify(projected)
    expect(rules.serialized(view, 200, JSON.stringify(row), 'application/json')).toEqual({
      kind: 'replace',
      body: text,
    })
    expect(meter).toHaveBeenLastCalledWith(view, 200, { value: projected, text })
    expect(rules.charge(view, 200, { value: projected, text })).toBeNull()
    expect(meter).toHaveBeenCalledTimes(3)
  })

  it('are not charged for a refused body, nor for an exempt one', () => {
    const meter = charged(tooMany)
    const rules = rulesOf(allow, [meter])
    expect(rules.value(view, 200, { pipe() {} })).toMatchObject({ kind: 'refuse' })
    expect(
      rulesOf({ passthrough: 'download' }, [meter]).charge(view, 200, {
        value: 1,
        text: undefined,
      }),
    ).toBeNull()
    expect(meter).not.toHaveBeenCalled()
    expect(rulesOf(allow).charge(view, 200, { value: 1, text: undefined })).toBeNull()
  })

  it('a refusal, now or later, takes the place of the body', async () => {
    expect(rulesOf(allow, [charged(tooMany)]).value(view, 200, row)).toEqual({
      kind: 'refuse',
      problem: tooMany,
    })
    expect(
      await rulesOf(allow, [charged(Promise.resolve(tooMany))]).serialized(
        view,
        200,
        JSON.stringify(row),
        'application/json',
      ),
    ).toEqual({ kind: 'refuse', problem: tooMany })
    expect(await rulesOf(allow, [charged(Promise.resolve(null))]).value(view, 200, row)).toEqual({
      kind: 'replace',
      value: projected,
    })
  })

  it('several meters answer in order; the first refusal stops the rest', async () => {
    const sent = { value: projected, text: undefined }
    const first = charged(null)
    const second = charged(tooMany)
    const third = charged(null)
    expect(rulesOf(allow, [first, second, third]).charge(view, 200, sent)).toBe(tooMany)
    expect([first, second, third].map((m) => m.mock.calls.length)).toEqual([1, 1, 0])

    const later = charged(Promise.resolve(null))
    const after = charged(tooMany)
    const last = charged(null)
    const answer = rulesOf(allow, [later, after, last]).charge(view, 200, sent)
    expect(answer).toBeInstanceOf(Promise)
    expect(after).not.toHaveBeenCalled()
    expect(await answer).toBe(tooMany)
    expect(last).not.toHaveBeenCalled()

    const refusing = charged(Promise.resolve(tooMany))
    const skipped = charged(null)
    expect(await rulesOf(allow, [refusing, skipped]).charge(view, 200, sent)).toBe(tooMany)
    expect(skipped).not.toHaveBeenCalled()

    const all = [charged(null), charged(Promise.resolve(null)), charged(null)]
    expect(await rulesOf(allow, all).charge(view, 200, sent)).toBeNull()
    expect(all.map((m) => m.mock.calls.length)).toEqual([1, 1, 1])
  })
})

describe('telemetry of the projection', () => {
  function observed(metrics: boolean, tracing: boolean) {
    const attributes: Record<string, unknown> = {}
    const removed: number[] = []
    const ended: unknown[] = []
    const span = { setAttribute: (k: string, v: unknown) => void (attributes[k] = v) }
    const telemetry = {
      metrics,
      tracing,
      fieldsRemoved: (_view: RequestView, _route: string, count: number) =>
        void removed.push(count),
      startSpan: () => (tracing ? (span as unknown as GuardSpan) : undefined),
      endSpan: (_span: GuardSpan, _view: RequestView, refusal: string | null, status?: number) =>
        void ended.push([refusal, status]),
    } as unknown as Telemetry
    const rules = createResponseRules(
      planResponse(allow, site, errorBodiesOnly()),
      '/videos',
      { realm: undefined, audit: undefined, telemetry },
      1024,
      [],
    )
    rules.project(view, 200, row)
    return { attributes, removed, ended }
  }

  it('counts the fields removed for a meter, and for a span when only tracing', () => {
    expect(observed(true, false)).toEqual({ attributes: {}, removed: [1], ended: [] })
    expect(observed(false, true)).toMatchObject({
      attributes: { 'portcullis.allowlist.fields_removed': 1 },
      ended: [[null, undefined]],
    })
  })
})
