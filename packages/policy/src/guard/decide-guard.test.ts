import type { GuardRequest } from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import { compileGuard } from './compile-guard.js'
import { decideGuard, type ReportOnlySettings } from './decide-guard.js'
import { explainGuard, principalFromClaims } from './explain-guard.js'

const site = { route: 'GET /v1/videos/:id', params: ['id'] }
const request: GuardRequest = {
  method: 'GET',
  url: '/v1/videos/7',
  params: { id: '7' },
  query: {},
  headers: {},
}
const enforce: ReportOnlySettings = { policy: false, tokens: false }
const reader = principalFromClaims({ sub: 'u1', scope: 'videos:read' })
const stranger = principalFromClaims({ sub: 'u2' })

/** The outcome as a user sees it: what the route answers and with which code. */
async function outcome(
  guard: unknown,
  principal: ReturnType<typeof principalFromClaims> | undefined,
  reportOnly: ReportOnlySettings = enforce,
  siteReportOnly?: boolean,
) {
  const compiled = compileGuard(guard, {
    ...site,
    ...(siteReportOnly === undefined ? {} : { reportOnly: siteReportOnly }),
  })
  const decided = await decideGuard(compiled, principal, request, reportOnly)
  return decided.kind === 'allow'
    ? { kind: decided.kind, code: decided.reason }
    : { kind: decided.kind, code: decided.error.code, status: decided.error.status }
}

describe('decideGuard', () => {
  it('allows a public route without a principal, as PCL_PUBLIC', async () => {
    expect(await outcome({ public: 'liveness probe' }, null)).toEqual({
      kind: 'allow',
      code: 'PCL_PUBLIC',
    })
    expect(await outcome({ public: 'liveness probe' }, undefined)).toEqual({
      kind: 'allow',
      code: 'PCL_PUBLIC',
    })
  })

  it('refuses a missing principal before any rule, even where tokens are reported', async () => {
    expect(await outcome({ authenticated: true }, null)).toEqual({
      kind: 'deny',
      code: 'PCL_TOKEN_MISSING',
      status: 401,
    })
    // `principal` undefined (no verifier ran): fail closed all the same.
    expect((await outcome({ authenticated: true }, undefined)).code).toBe('PCL_TOKEN_MISSING')
    // Token failures are reported only when the route itself is report-only.
    const tokensReported = { policy: true, tokens: true }
    expect(
      (await outcome({ authenticated: true, reportOnly: false }, null, tokensReported)).kind,
    ).toBe('deny')
    expect((await outcome({ authenticated: true }, null, tokensReported, true)).kind).toBe('report')
    // A report-only route still refuses a missing token unless tokens are reported too.
    expect(
      (await outcome({ authenticated: true }, null, { policy: true, tokens: false }, true)).kind,
    ).toBe('deny')
  })

  it('reports a denial on a report-only route and enforces it elsewhere; an allow stays an allow', async () => {
    const guard = { scopes: ['videos:read'] }
    expect(await outcome(guard, stranger, enforce, true)).toEqual({
      kind: 'report',
      code: 'PCL_INSUFFICIENT_SCOPE',
      status: 403,
    })
    expect(await outcome(guard, stranger, enforce, false)).toEqual({
      kind: 'deny',
      code: 'PCL_INSUFFICIENT_SCOPE',
      status: 403,
    })
    expect(await outcome(guard, reader, enforce, true)).toEqual({
      kind: 'allow',
      code: 'PCL_ALLOWED',
    })
  })

  it('an async check that resolves false, rejects or resolves true decides after it settles', async () => {
    const no = { check: async () => false }
    const throws = {
      check: async () => {
        throw new Error('directory down')
      },
    }
    const yes = { check: async () => true }
    expect(await outcome(no, reader)).toEqual({
      kind: 'deny',
      code: 'PCL_CHECK_DENIED',
      status: 403,
    })
    expect(await outcome(throws, reader)).toEqual({
      kind: 'deny',
      code: 'PCL_CHECK_DENIED',
      status: 403,
    })
    expect(await outcome(throws, reader, enforce, true)).toMatchObject({ kind: 'report' })
    expect(await outcome(yes, reader)).toEqual({ kind: 'allow', code: 'PCL_ALLOWED' })
  })

  it('keeps the thrown error as the cause of a PCL_CHECK_DENIED, for the server log', async () => {
    const boom = new Error('directory down')
    const compiled = compileGuard(
      {
        check: async () => {
          throw boom
        },
      },
      site,
    )
    const decided = await decideGuard(compiled, reader, request, enforce)
    expect(decided.kind).toBe('deny')
    expect(decided.kind !== 'allow' && decided.error.cause).toBe(boom)
  })
  it('fails closed if the compiled evaluator itself throws or rejects', async () => {
    const compiled = compileGuard({ authenticated: true }, site)
    const fault = new Error('evaluator fault')
    for (const evaluate of [
      () => {
        throw fault
      },
      () => Promise.reject(fault),
    ]) {
      const decided = await decideGuard({ ...compiled, evaluate }, reader, request, enforce)
      expect(decided).toMatchObject({
        kind: 'deny',
        error: { code: 'PCL_CHECK_DENIED', status: 403 },
      })
      expect(decided.kind !== 'allow' && decided.error.cause).toBe(fault)
    }
  })
})

describe('explainGuard', () => {
  it('explains a public route without a token as allowed', async () => {
    const compiled = compileGuard({ public: 'status page' }, site)
    expect(await explainGuard(compiled, null, request, enforce)).toEqual({
      decision: 'allow',
      status: 200,
      code: 'PCL_PUBLIC',
      steps: [{ rule: 'public', requirement: 'public: status page', outcome: 'pass', code: null }],
    })
  })

  it('explains a report-only denial as served (200) and the token rule that failed', async () => {
    const compiled = compileGuard({ scopes: ['videos:read'] }, { ...site, reportOnly: true })
    const tokensReported = { policy: true, tokens: true }
    expect(await explainGuard(compiled, null, request, tokensReported)).toEqual({
      decision: 'report',
      status: 200,
      code: 'PCL_TOKEN_MISSING',
      steps: [
        {
          rule: 'token',
          requirement: 'a verified token',
          outcome: 'fail',
          code: 'PCL_TOKEN_MISSING',
        },
      ],
    })
    expect(await explainGuard(compiled, null, request, enforce)).toMatchObject({
      decision: 'deny',
      status: 401,
    })
  })
})
