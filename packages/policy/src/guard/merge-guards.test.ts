// How a route guard builds on a named policy (`extends`) and on its prefix's guard defaults: the
// result requires everything both require, and loosening either is a startup error. Asserted on
// the decisions and the inventory summary a route gets, and on the startup errors.
import { isPortcullisConfigError, type GuardRequest, type PortcullisError } from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import { compileGuard, parseGuard, type CompiledGuard } from './compile-guard.js'
import { principalFromClaims } from './explain-guard.js'
import { resolvePolicies } from './named-policies.js'
import { normalizeGuard } from './normalized-guard.js'

const route = 'GET /t/:id'
const request: GuardRequest = {
  method: 'GET',
  url: '/t/7',
  params: { id: '7' },
  query: {},
  headers: {},
}

/** A route guard compiled over named policies and, optionally, prefix defaults. */
function compile(
  guard: unknown,
  options: { policies?: Record<string, unknown>; defaults?: unknown } = {},
): CompiledGuard {
  return compileGuard(guard, {
    route,
    params: ['id'],
    policies: resolvePolicies(options.policies ?? {}),
    ...(options.defaults === undefined
      ? {}
      : {
          defaults: {
            guard: normalizeGuard(parseGuard(options.defaults, { route: 'register(/t)' })),
            label: 'the guard defaults of prefix /t',
          },
        }),
  })
}

/** What the route answers a token with these claims: `allow` or the denial's code. */
async function decide(compiled: CompiledGuard, claims: Record<string, unknown>): Promise<string> {
  const principal = principalFromClaims({ sub: 'u', ...claims })!
  const denial: PortcullisError | null = await compiled.evaluate(principal, request)
  return denial === null ? 'allow' : denial.code
}

/** The startup error of a guard that loosens its base. */
function startupError(guard: unknown, options: Parameters<typeof compile>[1]) {
  try {
    compile(guard, options)
  } catch (err) {
    if (isPortcullisConfigError(err)) return err
    throw err
  }
  throw new Error('expected a startup error')
}

const recent = () => Math.floor(Date.now() / 1000) - 60

describe('scopes', () => {
  it('a route anyOf group adds to its policy anyOf group: one of each is required', async () => {
    const compiled = compile(
      { extends: 'either', scopes: { anyOf: ['c', 'd'] } },
      { policies: { either: { scopes: { anyOf: ['a', 'b'] } } } },
    )
    expect(compiled.summary).toBe('scopes: (a OR b) AND (c OR d)')
    expect(await decide(compiled, { scope: 'a' })).toBe('PCL_INSUFFICIENT_SCOPE')
    expect(await decide(compiled, { scope: 'd' })).toBe('PCL_INSUFFICIENT_SCOPE')
    expect(await decide(compiled, { scope: 'b c' })).toBe('allow')
  })

  it('allOf without anyOf, and a single scope string, require exactly those scopes', async () => {
    const allOf = compile({ scopes: { allOf: ['a', 'b', 'a'] } })
    expect(allOf.summary).toBe('scopes: a AND b')
    expect(await decide(allOf, { scope: 'a' })).toBe('PCL_INSUFFICIENT_SCOPE')
    expect(await decide(allOf, { scope: 'a b' })).toBe('allow')
    const one = compile({ scopes: 'a' })
    expect(one.summary).toBe('scopes: a')
    expect(await decide(one, { scope: 'b' })).toBe('PCL_INSUFFICIENT_SCOPE')
    expect(await decide(one, { scope: 'a' })).toBe('allow')
  })
})

describe('callers', () => {
  const policies = { svc: { callers: ['search-svc', 'player-svc'] } }

  it('a route narrows its policy callers; a route without callers keeps them', async () => {
    const narrowed = compile({ extends: 'svc', callers: ['search-svc'] }, { policies })
    expect(narrowed.summary).toBe('callers: search-svc')
    expect(await decide(narrowed, { client_id: 'search-svc' })).toBe('allow')
    expect(await decide(narrowed, { client_id: 'player-svc' })).toBe('PCL_CALLER_NOT_ALLOWED')
    const kept = compile({ extends: 'svc', scopes: ['a'] }, { policies })
    expect(await decide(kept, { client_id: 'player-svc', scope: 'a' })).toBe('allow')
    expect(await decide(kept, { client_id: 'other', scope: 'a' })).toBe('PCL_CALLER_NOT_ALLOWED')
  })

  it('a route adds callers where its policy sets none', async () => {
    const compiled = compile(
      { extends: 'reader', callers: ['search-svc'] },
      { policies: { reader: { scopes: ['a'] } } },
    )
    expect(await decide(compiled, { client_id: 'search-svc', scope: 'a' })).toBe('allow')
    expect(await decide(compiled, { client_id: 'other', scope: 'a' })).toBe(
      'PCL_CALLER_NOT_ALLOWED',
    )
  })

  it('widening them fails startup, naming every caller added', () => {
    const err = startupError(
      { extends: 'svc', callers: ['search-svc', 'billing', 'ops'] },
      {
        policies,
      },
    )
    expect(err.code).toBe('PCL_INVALID_GUARD')
    expect(err.field).toBe('guard.callers')
    expect(err.message).toBe(
      "GET /t/:id: guard.callers adds callers 'billing', 'ops' that policy 'svc' does not allow: a guard may narrow callers, not widen them",
    )
  })
})

describe('step-up (acr, maxAuthAge)', () => {
  const policies = { strong: { acr: ['mfa', 'hwk'], maxAuthAge: 300 } }

  it('a route narrows its policy acr values and may shorten maxAuthAge', async () => {
    const compiled = compile({ extends: 'strong', acr: ['hwk'], maxAuthAge: 60 }, { policies })
    expect(compiled.summary).toBe('acr: hwk; maxAuthAge: 60s')
    const fresh = { auth_time: Math.floor(Date.now() / 1000) - 10 }
    expect(await decide(compiled, { ...fresh, acr: 'hwk' })).toBe('allow')
    expect(await decide(compiled, { ...fresh, acr: 'mfa' })).toBe('PCL_INSUFFICIENT_AUTHENTICATION')
    expect(await decide(compiled, { auth_time: recent() - 60, acr: 'hwk' })).toBe(
      'PCL_INSUFFICIENT_AUTHENTICATION',
    )
  })

  it("a route without acr keeps its policy's, and restating maxAuthAge is no loosening", async () => {
    const compiled = compile({ extends: 'strong', maxAuthAge: 300 }, { policies })
    expect(compiled.summary).toBe('acr: mfa OR hwk; maxAuthAge: 300s')
    expect(await decide(compiled, { auth_time: recent(), acr: 'pwd' })).toBe(
      'PCL_INSUFFICIENT_AUTHENTICATION',
    )
    expect(await decide(compiled, { auth_time: recent(), acr: 'mfa' })).toBe('allow')
  })

  it('a route adds acr where its policy sets none, and keeps its maxAuthAge', async () => {
    const compiled = compile(
      { extends: 'recent', acr: ['mfa'] },
      { policies: { recent: { maxAuthAge: 120 } } },
    )
    expect(compiled.summary).toBe('acr: mfa; maxAuthAge: 120s')
    expect(await decide(compiled, { auth_time: recent(), acr: 'pwd' })).toBe(
      'PCL_INSUFFICIENT_AUTHENTICATION',
    )
    expect(await decide(compiled, { auth_time: recent() - 120, acr: 'mfa' })).toBe(
      'PCL_INSUFFICIENT_AUTHENTICATION',
    )
  })

  it('a route adds maxAuthAge where its policy sets none', async () => {
    const compiled = compile(
      { extends: 'mfa', maxAuthAge: 60 },
      { policies: { mfa: { acr: ['mfa'] } } },
    )
    expect(compiled.summary).toBe('acr: mfa; maxAuthAge: 60s')
    expect(await decide(compiled, { auth_time: recent(), acr: 'mfa' })).toBe(
      'PCL_INSUFFICIENT_AUTHENTICATION',
    )
    expect(await decide(compiled, { auth_time: recent() + 30, acr: 'mfa' })).toBe('allow')
  })

  it('widening acr or lengthening maxAuthAge fails startup', () => {
    const acr = startupError({ extends: 'strong', acr: ['mfa', 'pwd', 'otp'] }, { policies })
    expect(acr.field).toBe('guard.acr')
    expect(acr.message).toBe(
      "GET /t/:id: guard.acr adds acr values 'pwd', 'otp' that policy 'strong' does not accept: a guard may narrow acr, not widen it",
    )
    const age = startupError({ extends: 'strong', maxAuthAge: 301 }, { policies })
    expect(age.field).toBe('guard.maxAuthAge')
    expect(age.message).toBe(
      "GET /t/:id: guard.maxAuthAge (301s) would loosen policy 'strong', which requires an authentication at most 300s old",
    )
  })
})

describe('claims', () => {
  it('restating a rule identically is allowed; any other rule for that claim fails startup', async () => {
    const policies = { own: { claims: { sub: { param: 'id' } } } }
    const same = compile({ extends: 'own', claims: { sub: { param: 'id' } } }, { policies })
    expect(await decide(same, { sub: '7' })).toBe('allow')
    expect(await decide(same, { sub: '8' })).toBe('PCL_CLAIM_MISMATCH')
    for (const other of [{ param: 'id', numeric: true }, { query: 'id' }, '7']) {
      const err = startupError({ extends: 'own', claims: { sub: other } }, { policies })
      expect(err.field).toBe('guard.claims.sub')
      expect(err.message).toContain("conflicts with the rule policy 'own' sets for this claim")
    }
  })
})

describe('reportOnly', () => {
  it('a route may enforce a report-only policy, or trial one that does not say', () => {
    expect(
      compile(
        { extends: 'trial', reportOnly: false },
        { policies: { trial: { scopes: ['a'], reportOnly: true } } },
      ).reportOnly,
    ).toBe(false)
    expect(
      compile({ extends: 'plain', reportOnly: true }, { policies: { plain: { scopes: ['a'] } } })
        .reportOnly,
    ).toBe(true)
    // Without its own, a route takes its policy's: enforced or report-only.
    const enforced = compile(
      { extends: 'strict' },
      { policies: { strict: { scopes: ['a'], reportOnly: false } } },
    )
    expect(enforced.reportOnly).toBe(false)
    const inherited = compile(
      { extends: 'trial' },
      { policies: { trial: { scopes: ['a'], reportOnly: true } } },
    )
    expect(inherited.reportOnly).toBe(true)
    expect(inherited.summary).toBe('REPORT-ONLY (not enforced): scopes: a')
  })

  it('a route cannot make an enforced policy report-only', () => {
    const err = startupError(
      { extends: 'strict', reportOnly: true },
      { policies: { strict: { scopes: ['a'], reportOnly: false } } },
    )
    expect(err.field).toBe('guard.reportOnly')
    expect(err.message).toBe(
      "GET /t/:id: guard.reportOnly would loosen policy 'strict', which enforces its rules",
    )
  })
})

describe('a base that requires nothing', () => {
  // Prefix defaults may set only what other plugins read (a rate limit, an allowlist).
  const defaults = { response: { allow: ['id'] } }

  it('a route without requirements of its own under it is still empty: startup fails', () => {
    const err = startupError({}, { defaults })
    expect(err.field).toBe('guard')
    expect(err.message).toMatch(/is empty/)
    expect(startupError({ extends: 'shaped' }, { policies: { shaped: defaults } }).field).toBe(
      'guard',
    )
  })

  it('a public route builds on it; on a base with requirements it fails startup', () => {
    const compiled = compile({ public: 'catalog' }, { defaults })
    expect(compiled.public).toBe('catalog')
    expect(compiled.summary).toBe('public: catalog')
    const err = startupError({ public: 'catalog' }, { defaults: { authenticated: true } })
    expect(err.field).toBe('guard.public')
    expect(err.message).toBe(
      'GET /t/:id: guard.public would loosen the guard defaults of prefix /t, which requires a token: a guard may tighten it only',
    )
  })
})
