import { afterEach, describe, expect, it, vi } from 'vitest'
import type { AuditEvent } from '../audit.js'
import { AuthorizationError, DependencyError } from '../errors/index.js'
import type { RenderedProblem } from '../problem/index.js'
import { andThen, deadline, settle, type Pending } from './answer.js'
import { emitAudit, logs, problemBytes, refuse, reportDenial } from './decisions.js'
import type { GuardLogger, RequestView } from './request-view.js'
import { answerUnknownRoute, runSteps, type DenialWatch, type RouteSteps } from './steps.js'

function problem(status: number, code: string): RenderedProblem {
  return { status, headers: {}, body: { code } as RenderedProblem['body'] }
}

const view = { method: 'GET' } as RequestView
const later = <T>(value: T): Promise<T> =>
  new Promise((resolve) => setTimeout(() => resolve(value), 1))

describe('settle and andThen', () => {
  function settled(answer: Pending) {
    const seen: string[] = []
    settle(
      answer,
      () => seen.push('go'),
      (p) => seen.push(`send ${p.status}`),
      (err) => seen.push(`failed ${err.message}`),
    )
    return seen
  }

  it('goes on or sends at once for a synchronous answer', () => {
    expect(settled(null)).toEqual(['go'])
    expect(settled(problem(403, 'X'))).toEqual(['send 403'])
  })

  it('waits for a promise; a rejection (a bug in a step) is failed, as an Error', async () => {
    const go = settled(Promise.resolve(null))
    const send = settled(Promise.resolve(problem(401, 'Y')))
    const failed = settled(Promise.reject(new Error('boom')))
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a step's bug
    const odd = settled(Promise.reject('text'))
    expect([go, send, failed, odd]).toEqual([[], [], [], []])
    await later(null)
    expect([go, send, failed, odd]).toEqual([
      ['go'],
      ['send 401'],
      ['failed boom'],
      ['failed text'],
    ])
  })

  it('andThen runs the next step only when the answer goes on', async () => {
    const next = vi.fn(() => problem(429, 'N'))
    expect(andThen(problem(403, 'A'), next)).toMatchObject({ status: 403 })
    expect(next).not.toHaveBeenCalled()
    expect(andThen(null, next)).toMatchObject({ status: 429 })
    expect(await andThen(Promise.resolve(problem(401, 'B')), next)).toMatchObject({ status: 401 })
    expect(next).toHaveBeenCalledTimes(1)
    expect(await andThen(Promise.resolve(null), next)).toMatchObject({ status: 429 })
    expect(next).toHaveBeenCalledTimes(2)
  })
})

describe('deadline', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('settles as the promise does before the deadline; a non-Error rejection becomes an Error', async () => {
    const late = () => new DependencyError('PCL_CHECK_UNAVAILABLE')
    expect(await deadline(Promise.resolve(7), 50, late)).toBe(7)
    await expect(deadline(Promise.reject(new Error('no')), 50, late)).rejects.toThrow('no')
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- user code
    const odd = deadline(Promise.reject('plain'), 50, late)
    await expect(odd).rejects.toBeInstanceOf(Error)
    await expect(odd).rejects.toThrow('plain')
  })

  it('rejects with late() once the time has passed, and ignores a later answer', async () => {
    vi.useFakeTimers()
    let resolve!: (value: number) => void
    const slow = new Promise<number>((r) => (resolve = r))
    const raced = deadline(slow, 1000, () => new DependencyError('PCL_CHECK_UNAVAILABLE'))
    const outcome = raced.then(
      () => 'resolved',
      (err: DependencyError) => err.code,
    )
    await vi.advanceTimersByTimeAsync(999)
    resolve(1)
    expect(await outcome).toBe('resolved')
    const stalled = deadline(new Promise<number>(() => undefined), 1000, () => new Error('late'))
    const result = stalled.then(
      () => 'resolved',
      (err: Error) => err.message,
    )
    await vi.advanceTimersByTimeAsync(1000)
    expect(await result).toBe('late')
  })

  it('clears its timer once the promise settles', async () => {
    vi.useFakeTimers()
    await deadline(Promise.resolve(1), 1000, () => new Error('late'))
    await deadline(Promise.reject(new Error('x')), 1000, () => new Error('late')).catch(() => 0)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('runSteps', () => {
  const refused = problem(403, 'PCL_INSUFFICIENT_SCOPE')

  function steps(decide: Pending, after: Pending[], lockout?: DenialWatch): RouteSteps {
    const ran: number[] = []
    const route: RouteSteps & { ran: number[] } = {
      decide: () => decide,
      after: after.map((answer, i) => () => (ran.push(i), answer)),
      ran,
      ...(lockout === undefined ? {} : { lockout }),
    }
    return route
  }

  it('runs the after-steps in order once the decision allows, and stops at the first refusal', async () => {
    const sync = steps(null, [null, problem(429, 'PCL_RATE_LIMITED'), null])
    expect(runSteps(sync, view)).toMatchObject({ status: 429 })
    expect((sync as unknown as { ran: number[] }).ran).toEqual([0, 1])
    const async = steps(Promise.resolve(null), [later(null), later(problem(413, 'B')), null])
    expect(await runSteps(async, view)).toMatchObject({ status: 413 })
    expect((async as unknown as { ran: number[] }).ran).toEqual([0, 1])
    const through = steps(null, [later(null), null])
    expect(await runSteps(through, view)).toBeNull()
    expect((through as unknown as { ran: number[] }).ran).toEqual([0, 1])
    const denied = steps(refused, [null])
    expect(runSteps(denied, view)).toBe(refused)
    expect((denied as unknown as { ran: number[] }).ran).toEqual([])
    expect(await runSteps(steps(later(refused), [null]), view)).toBe(refused)
  })

  it('with a lockout: a locked-out principal is refused before the decision; authorization denials are counted', async () => {
    const locked = problem(429, 'PCL_LOCKED_OUT')
    const counted: string[] = []
    const watch = (check: Pending): DenialWatch => ({
      check: () => check,
      denied: (_view, code) => counted.push(code),
    })
    const decide = vi.fn(() => refused)
    const route = (check: Pending, answer: Pending): RouteSteps => ({
      decide: () => (decide(), answer),
      after: [],
      lockout: watch(check),
    })
    expect(runSteps(route(locked, refused), view)).toBe(locked)
    expect(await runSteps(route(later(locked), refused), view)).toBe(locked)
    expect(decide).not.toHaveBeenCalled()
    expect(runSteps(route(null, refused), view)).toBe(refused)
    expect(await runSteps(route(later(null), later(refused)), view)).toBe(refused)
    expect(counted).toEqual(['PCL_INSUFFICIENT_SCOPE', 'PCL_INSUFFICIENT_SCOPE'])
    // Not counted: a 401 (no principal), a 403 that is not an authorization denial, an allow.
    expect(runSteps(route(null, problem(401, 'PCL_TOKEN_MISSING')), view)).toMatchObject({
      status: 401,
    })
    expect(runSteps(route(null, problem(403, 'PCL_ROUTE_NOT_GUARDED')), view)).toMatchObject({
      status: 403,
    })
    expect(await runSteps(route(null, later(null)), view)).toBeNull()
    expect(counted).toHaveLength(2)
    for (const code of ['PCL_CALLER_NOT_ALLOWED', 'PCL_CLAIM_MISMATCH', 'PCL_CHECK_DENIED']) {
      expect(runSteps(route(null, problem(403, code)), view)).toMatchObject({ status: 403 })
    }
    expect(counted.slice(2)).toEqual([
      'PCL_CALLER_NOT_ALLOWED',
      'PCL_CLAIM_MISMATCH',
      'PCL_CHECK_DENIED',
    ])
  })
})

describe('answerUnknownRoute', () => {
  it("is a problem+json 404 without a refusal, else the refusal's answer", async () => {
    const notFound = answerUnknownRoute(null)(view) as RenderedProblem
    expect(notFound.status).toBe(404)
    expect(notFound.headers['content-type']).toBe('application/problem+json')
    // The same frozen answer every time: its wire form is formatted once, and nobody changes it.
    expect(answerUnknownRoute(null)(view)).toBe(notFound)
    for (const part of [notFound, notFound.headers, notFound.body]) {
      expect(Object.isFrozen(part)).toBe(true)
    }
    const unauthorized = problem(401, 'PCL_TOKEN_MISSING')
    expect(answerUnknownRoute(() => unauthorized)(view)).toBe(unauthorized)
    expect(await answerUnknownRoute(() => later(unauthorized))(view)).toBe(unauthorized)
    expect(answerUnknownRoute(() => null)(view)).toMatchObject({ status: 404 })
    expect(await answerUnknownRoute(() => later(null))(view)).toMatchObject({ status: 404 })
  })
})

describe('audit and refusals', () => {
  function logger(level?: string, enabled?: (level: string) => boolean) {
    const lines: { level: string; msg: string; obj: unknown }[] = []
    const log: GuardLogger = {
      ...(level === undefined ? {} : { level }),
      ...(enabled === undefined ? {} : { isLevelEnabled: enabled }),
      info: (obj: unknown, msg: string) => void lines.push({ level: 'info', msg, obj }),
      warn: (obj: unknown, msg: string) => void lines.push({ level: 'warn', msg, obj }),
      error: (obj: unknown, msg: string) => void lines.push({ level: 'error', msg, obj }),
    }
    return { log, lines }
  }
  const request = (log: GuardLogger): RequestView =>
    ({
      method: 'GET',
      log,
      principal: null,
      requestId: 'r1',
      ip: '10.0.0.1',
      start: performance.now(),
      dpop: undefined,
    }) as unknown as RequestView

  it('logs() is false for a silent logger or a disabled level, true otherwise', () => {
    expect(logs(logger('silent').log, 'warn')).toBe(false)
    expect(logs(logger('info', (l) => l === 'warn').log, 'warn')).toBe(true)
    expect(logs(logger('info', (l) => l === 'warn').log, 'info')).toBe(false)
    expect(logs(logger('info').log, 'info')).toBe(true)
    expect(logs(logger().log, 'warn')).toBe(true)
  })

  it('emits to the sink when there is one; to the log at info (allow) or warn (deny) otherwise', () => {
    const events: AuditEvent[] = []
    const { log, lines } = logger('silent')
    emitAudit(
      request(log),
      { realm: 'r', audit: (e) => void events.push(e) },
      'deny',
      'PCL_TOKEN_MISSING',
      {
        route: '/v',
        status: 401,
      },
    )
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      decision: 'deny',
      reason: 'PCL_TOKEN_MISSING',
      route: '/v',
      status: 401,
      ip: '10.0.0.1',
      requestId: 'r1',
    })
    expect(events[0]!.durationMs).toBeGreaterThanOrEqual(0)
    expect(lines).toEqual([])
    const open = logger('info')
    emitAudit(request(open.log), { realm: 'r', audit: undefined }, 'allow', 'PCL_ALLOWED', {
      route: '/v',
    })
    emitAudit(request(open.log), { realm: 'r', audit: undefined }, 'deny', 'PCL_TOKEN_MISSING', {
      route: '/v',
    })
    expect(open.lines.map((l) => l.level)).toEqual(['info', 'warn'])
    // A denial is written at warn: a logger at warn writes it, not the allow.
    const warnOnly = logger('warn', (l) => l !== 'info')
    emitAudit(
      request(warnOnly.log),
      { realm: 'r', audit: undefined },
      'deny',
      'PCL_TOKEN_MISSING',
      {
        route: '/v',
      },
    )
    expect(warnOnly.lines.map((l) => l.level)).toEqual(['warn'])
    // Nobody would read it: not built.
    const quiet = logger('warn', (l) => l !== 'info')
    emitAudit(request(quiet.log), { realm: 'r', audit: undefined }, 'allow', 'PCL_ALLOWED', {
      route: '/v',
    })
    expect(quiet.lines).toEqual([])
  })

  it('measures the decision from when the guard first saw the request; 0 without a start', () => {
    const events: AuditEvent[] = []
    const { log } = logger('silent')
    const context = { realm: 'r', audit: (e: AuditEvent) => void events.push(e) }
    const start = performance.now() - 50
    const started = { ...request(log), start } as RequestView
    emitAudit(started, context, 'allow', 'PCL_ALLOWED', { route: '/v' })
    emitAudit({ ...request(log), start: 0 }, context, 'allow', 'PCL_ALLOWED', {
      route: '/v',
    })
    expect(events[0]!.durationMs).toBeGreaterThanOrEqual(50)
    expect(events[0]!.durationMs).toBeLessThanOrEqual(performance.now() - start)
    expect(events[1]!.durationMs).toBe(0)
  })

  it('counts a decision in telemetry as allowed, denied or reported', () => {
    const seen: unknown[][] = []
    const telemetry = { decision: (...args: unknown[]) => void seen.push(args.slice(1)) }
    const context = { realm: 'r', audit: () => undefined, telemetry } as never
    const { log } = logger('silent')
    emitAudit(request(log), context, 'allow', 'PCL_ALLOWED', { route: '/a' })
    emitAudit(request(log), context, 'deny', 'PCL_CHECK_DENIED', { route: '/a', status: 403 })
    reportDenial(request(log), context, new AuthorizationError('PCL_CHECK_DENIED'), '/a')
    expect(seen).toEqual([
      ['allowed', 'PCL_ALLOWED', '/a', null],
      ['denied', 'PCL_CHECK_DENIED', '/a', 403],
      ['reported', 'PCL_CHECK_DENIED', '/a', 403],
    ])
  })

  it('refuse renders the problem, audits the denial, and logs only unexpected errors', () => {
    const events: AuditEvent[] = []
    const { log, lines } = logger('info')
    const context = { realm: 'api', audit: (e: AuditEvent) => void events.push(e) }
    const denied = refuse(
      request(log),
      context,
      new AuthorizationError('PCL_INSUFFICIENT_SCOPE', { scope: ['a'] }),
      '/v',
      { fields: ['x'] },
    )
    expect(denied.status).toBe(403)
    expect(denied.headers['www-authenticate']).toContain('realm="api"')
    expect(events.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'PCL_INSUFFICIENT_SCOPE',
      status: 403,
      fields: ['x'],
    })
    expect(lines).toEqual([])
    const bug = refuse(request(log), context, new TypeError('oops'), '/v')
    expect(bug.status).toBe(500)
    expect(bug.body.code).toBe('PCL_INTERNAL')
    expect(JSON.stringify(bug.body)).not.toContain('oops')
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['error', 'portcullis: unexpected error while guarding a request'],
    ])
    expect(lines[0]!.obj).toEqual({ err: expect.any(TypeError) as unknown })
    expect(events.at(-1)).toMatchObject({ reason: 'PCL_INTERNAL', status: 500 })
  })

  it('reportDenial audits the denial as report-only, with the error status', () => {
    const events: AuditEvent[] = []
    const { log } = logger('info')
    reportDenial(
      request(log),
      { realm: 'r', audit: (e) => void events.push(e) },
      new AuthorizationError('PCL_CALLER_NOT_ALLOWED'),
      '/v',
      ['a'],
    )
    expect(events).toEqual([
      expect.objectContaining({
        decision: 'deny',
        reason: 'PCL_CALLER_NOT_ALLOWED',
        reportOnly: true,
        status: 403,
        fields: ['a'],
      }),
    ])
  })

  it('problemBytes is the JSON of the body', () => {
    expect(problemBytes(problem(403, 'X')).toString('utf8')).toBe('{"code":"X"}')
  })
})
