import { describe, expect, it, vi } from 'vitest'
import {
  AuthenticationError,
  AuthorizationError,
  PortcullisConfigError,
  RateLimitError,
} from '../errors/index.js'
import { emitAudit, logs, problemBytes, refuse, type DecisionContext } from './decisions.js'
import type { Telemetry } from '../telemetry/index.js'
import type { GuardLogger, RequestView } from './request-view.js'

function logger() {
  return { info: vi.fn(), warn: vi.fn(), error: vi.fn() }
}

function view(log: GuardLogger = logger(), dpop?: RequestView['dpop']): RequestView {
  return {
    method: 'GET',
    route: '/v/:id',
    start: performance.now(),
    principal: null,
    requestId: 'req-1',
    ip: '127.0.0.1',
    log,
    dpop,
  } as unknown as RequestView
}

function context(overrides: Partial<DecisionContext> = {}): DecisionContext {
  return { realm: 'api', audit: undefined, ...overrides }
}

describe('logs', () => {
  // What Fastify hands to hooks when the app has no logger (`logger: false`).
  function noop() {}
  const silent = { info: noop, warn: noop, error: noop, child: () => silent }

  it('knows a logger whose methods are empty functions writes nothing', () => {
    expect(logs(silent, 'warn')).toBe(false)
    expect(logs(silent, 'info')).toBe(false)
    const arrows = { info: () => {}, warn: () => {}, error: () => {} }
    expect(logs(arrows, 'warn')).toBe(false)
  })

  it('knows an empty function however it is spaced or named', () => {
    const quiet = (fn: (...args: never[]) => void) => !logs({ ...silent, warn: fn }, 'warn')
    // prettier-ignore
    const empty = [
      function(){},
      function  $quiet_1 ( ) {  },
      ()=>{},
      ( )  =>  {
      },
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      new Function('') as () => void,
    ]
    for (const fn of empty) expect(quiet(fn), String(fn)).toBe(true)
    // prettier-ignore
    const writing = [
      async () => {},
      function(_fields: object) {},
      (_fields: object) => {},
      () => () => {},
      function f() { return },
      function* g() {},
    ]
    for (const fn of writing) expect(quiet(fn as () => void), String(fn)).toBe(false)
  })

  it('treats any method with a body, or a level it cannot read, as writing', () => {
    expect(logs(logger(), 'warn')).toBe(true)
    const lines: unknown[] = []
    const warn = function warn(fields: object) {
      lines.push(fields)
    }
    const written = { info: (fields: object) => void lines.push(fields), warn, error: noop }
    expect(logs(written, 'info')).toBe(true)
    expect(logs(written, 'warn')).toBe(true)
    // The level is read from the method the event would go to, not from another one.
    expect(logs({ ...silent, warn }, 'warn')).toBe(true)
    expect(logs({ ...silent, warn }, 'info')).toBe(false)
    // A logger without the method: not known to be silent.
    expect(logs({ warn, error: noop } as unknown as GuardLogger, 'info')).toBe(true)
  })

  it('reads the level of a logger that states it', () => {
    expect(logs({ ...logger(), level: 'silent' }, 'warn')).toBe(false)
    const pinoLike = { ...logger(), level: 'warn', isLevelEnabled: (l: string) => l === 'warn' }
    expect(logs(pinoLike, 'warn')).toBe(true)
    expect(logs(pinoLike, 'info')).toBe(false)
  })

  it('delivers no event to an empty logger, and every event to a sink', () => {
    // The request is not even read (no event is built) when nothing would receive the event.
    const quiet = view(silent)
    const read = vi.fn(() => '127.0.0.1')
    Object.defineProperty(quiet, 'ip', { get: read })
    emitAudit(quiet, context(), 'deny', 'PCL_TOKEN_INVALID', { route: '/v/:id' })
    emitAudit(quiet, context(), 'allow', 'PCL_ALLOWED', { route: '/v/:id' })
    expect(read).not.toHaveBeenCalled()
    const sink = vi.fn()
    emitAudit(quiet, context({ audit: sink }), 'deny', 'PCL_TOKEN_INVALID', { route: '/v/:id' })
    expect(sink).toHaveBeenCalledOnce()
    expect(read).toHaveBeenCalledOnce()
    expect(sink.mock.calls[0]?.[0]).toMatchObject({ decision: 'deny', reason: 'PCL_TOKEN_INVALID' })
  })

  it('reads the level of the decision: an allow at info, a denial at warn', () => {
    const lines: string[] = []
    const warnOnly = {
      ...silent,
      warn: (_fields: object, message: string) => void lines.push(message),
    }
    emitAudit(view(warnOnly), context(), 'allow', 'PCL_ALLOWED', { route: '/v/:id' })
    expect(lines).toEqual([])
    emitAudit(view(warnOnly), context(), 'deny', 'PCL_TOKEN_INVALID', { route: '/v/:id' })
    expect(lines).toEqual(['portcullis: denied'])
    const infoOnly = {
      ...silent,
      info: (_fields: object, message: string) => void lines.push(message),
    }
    emitAudit(view(infoOnly), context(), 'deny', 'PCL_TOKEN_INVALID', { route: '/v/:id' })
    emitAudit(view(infoOnly), context(), 'allow', 'PCL_ALLOWED', { route: '/v/:id' })
    expect(lines).toEqual(['portcullis: denied', 'portcullis: allowed'])
  })
})

describe('emitAudit', () => {
  it('counts every decision by outcome, whoever reads the events', () => {
    const decision = vi.fn()
    const ctx = context({ telemetry: { decision } as unknown as Telemetry })
    const quiet = view({ info() {}, warn() {}, error() {} })
    emitAudit(quiet, ctx, 'allow', 'PCL_ALLOWED', { route: '/v/:id', status: 200 })
    emitAudit(quiet, ctx, 'deny', 'PCL_TOKEN_MISSING', { route: null, status: 401 })
    emitAudit(quiet, ctx, 'deny', 'PCL_INSUFFICIENT_SCOPE', { route: '/v', reportOnly: true })
    emitAudit(quiet, ctx, 'deny', 'PCL_INSUFFICIENT_SCOPE', { route: '/v', reportOnly: false })
    expect(decision.mock.calls).toEqual([
      [quiet, 'allowed', 'PCL_ALLOWED', '/v/:id', 200],
      [quiet, 'denied', 'PCL_TOKEN_MISSING', null, 401],
      [quiet, 'reported', 'PCL_INSUFFICIENT_SCOPE', '/v', null],
      [quiet, 'denied', 'PCL_INSUFFICIENT_SCOPE', '/v', null],
    ])
  })

  it("describes the request: the view's principal unless the decision names one", () => {
    const sink = vi.fn()
    const seen = { ...view(), principal: { subject: 'from-view' }, ip: undefined } as never
    emitAudit(seen, context({ audit: sink }), 'allow', 'PCL_ALLOWED', { route: '/v/:id' })
    const named = { subject: 'named' } as never
    emitAudit(seen, context({ audit: sink }), 'deny', 'PCL_NOT_OWNED', {
      route: '/v/:id',
      principal: named,
    })
    const [first, second] = sink.mock.calls.map(([event]) => event as Record<string, unknown>)
    expect(first).toMatchObject({ method: 'GET', route: '/v/:id', requestId: 'req-1', ip: null })
    expect(first?.subject).toBe('from-view')
    expect(second?.subject).toBe('named')
    expect(first?.durationMs).toBeGreaterThanOrEqual(0)
    // A view that has no start time reports no duration rather than the process uptime.
    emitAudit({ ...view(), start: 0 }, context({ audit: sink }), 'allow', 'PCL_ALLOWED', {
      route: null,
    })
    expect((sink.mock.calls[2]?.[0] as { durationMs: number }).durationMs).toBe(0)
  })
})

describe('refuse', () => {
  const invalid = () => new AuthenticationError('PCL_TOKEN_INVALID', { message: 'bad signature' })

  it('renders a refusal with nothing of its own once per context, frozen, with its bytes', () => {
    const ctx = context()
    const first = refuse(view(), ctx, invalid(), '/v/:id')
    const second = refuse(view(), ctx, invalid(), '/v/:id')
    expect(second).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
    expect(Object.isFrozen(first.headers)).toBe(true)
    expect(Object.isFrozen(first.body)).toBe(true)
    expect(JSON.parse(problemBytes(first).toString())).toEqual(first.body)
    expect(first.status).toBe(401)
    expect(first.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_token"/)
    // The message is never sent.
    expect(problemBytes(first).toString()).not.toContain('bad signature')
  })

  it('audits every refusal, rendered once or not', () => {
    const sink = vi.fn()
    const ctx = context({ audit: sink })
    refuse(view(), ctx, invalid(), '/v/:id')
    refuse(view(), ctx, invalid(), '/v/:id')
    expect(sink).toHaveBeenCalledTimes(2)
  })

  it('keeps the challenge of each context, DPoP challenge and code apart', () => {
    const ctx = context()
    const bearer = refuse(view(), ctx, invalid(), null)
    const dpopOnly = refuse(view(logger(), { algs: ['ES256'], only: true }), ctx, invalid(), null)
    expect(dpopOnly).not.toBe(bearer)
    expect(dpopOnly.headers['www-authenticate']).toMatch(/^DPoP /)
    const other = refuse(view(), context({ realm: 'other' }), invalid(), null)
    expect(other.headers['www-authenticate']).toContain('realm="other"')
    const expired = refuse(view(), ctx, new AuthenticationError('PCL_TOKEN_EXPIRED'), null)
    expect(expired.body.code).toBe('PCL_TOKEN_EXPIRED')
    expect(refuse(view(), ctx, invalid(), null)).toBe(bearer)
  })

  it('renders a refusal that carries scopes, a detail or headers every time', () => {
    const ctx = context()
    const scoped = (scope: string[]) =>
      refuse(view(), ctx, new AuthorizationError('PCL_INSUFFICIENT_SCOPE', { scope }), null)
    expect(scoped(['a:read']).headers['www-authenticate']).toContain('scope="a:read"')
    expect(scoped(['b:write']).headers['www-authenticate']).toContain('scope="b:write"')
    const limited = (after: string) =>
      refuse(
        view(),
        ctx,
        new RateLimitError('PCL_RATE_LIMITED', { headers: { 'retry-after': after } }),
        null,
      )
    expect(limited('3').headers['retry-after']).toBe('3')
    expect(limited('7').headers['retry-after']).toBe('7')
    expect(Object.isFrozen(limited('7'))).toBe(false)
    const detailed = (detail: string) =>
      refuse(view(), ctx, new AuthenticationError('PCL_TOKEN_INVALID', { detail }), null)
    expect(detailed('first').body.detail).toBe('first')
    expect(detailed('second').body.detail).toBe('second')
    expect(refuse(view(), ctx, invalid(), null).body.detail).toBeUndefined()
    // A proof error's own DPoP challenge, and a step-up challenge, are the error's.
    const proof = (algs: string[]) =>
      refuse(
        view(),
        ctx,
        new AuthenticationError('PCL_DPOP_PROOF_INVALID', { dpop: { algs, only: true } }),
        null,
      )
    expect(proof(['ES256']).headers['www-authenticate']).toContain('algs="ES256"')
    expect(proof(['EdDSA']).headers['www-authenticate']).toContain('algs="EdDSA"')
    const stepUp = (acrValues: string[]) =>
      refuse(
        view(),
        ctx,
        new AuthenticationError('PCL_INSUFFICIENT_AUTHENTICATION', { stepUp: { acrValues } }),
        null,
      )
    expect(stepUp(['silver']).headers['www-authenticate']).toContain('acr_values="silver"')
    expect(stepUp(['gold']).headers['www-authenticate']).toContain('acr_values="gold"')
  })

  it('keeps the bytes of a refusal rendered once, and renders the bytes of any other', () => {
    const ctx = context()
    const first = refuse(view(), ctx, invalid(), null)
    expect(problemBytes(refuse(view(), ctx, invalid(), null))).toBe(problemBytes(first))
    const scoped = refuse(
      view(),
      ctx,
      new AuthorizationError('PCL_INSUFFICIENT_SCOPE', { scope: ['a'] }),
      null,
    )
    expect(JSON.parse(problemBytes(scoped).toString())).toEqual(scoped.body)
  })

  it('answers a bare 500 for anything that is not a refusal, and logs it', () => {
    const log = logger()
    const problem = refuse(view(log), context(), new Error('db password=hunter2'), null)
    expect(problem.status).toBe(500)
    expect(problemBytes(problem).toString()).not.toContain('hunter2')
    expect(log.error).toHaveBeenCalledOnce()
    // A configuration error (thrown by a callback at run time) too, each time.
    const config = new PortcullisConfigError('PCL_INVALID_OPTIONS', 'x: secret-value')
    for (let i = 0; i < 2; i++) {
      const answered = refuse(view(log), context(), config, null)
      expect(answered.body).toEqual({ ...problem.body })
      expect(problemBytes(answered).toString()).not.toContain('secret-value')
    }
    expect(log.error).toHaveBeenCalledTimes(3)
    // Whatever was thrown: a string, null, undefined.
    for (const thrown of ['db down', null, undefined]) {
      expect(refuse(view(log), context(), thrown, null).body).toEqual({ ...problem.body })
    }
  })
})
