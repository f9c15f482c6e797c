import { isPortcullisConfigError } from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import { compileGuard, routeParams } from './compile-guard.js'

const site = { route: 'GET /v1/videos/:id' }

function configError(guard: unknown, at: Parameters<typeof compileGuard>[1] = site) {
  try {
    compileGuard(guard, at)
  } catch (err) {
    if (isPortcullisConfigError(err) && err.code === 'PCL_INVALID_GUARD') return err
    throw err
  }
  throw new Error('expected a PCL_INVALID_GUARD error')
}

describe('compileGuard', () => {
  it('compiles a public guard with its reason', () => {
    const compiled = compileGuard({ public: 'liveness probe' }, site)
    expect(compiled.public).toBe('liveness probe')
    expect(compiled.summary).toBe('public: liveness probe')
    expect(Object.isFrozen(compiled)).toBe(true)
  })

  it('compiles an authenticated guard', () => {
    const compiled = compileGuard({ authenticated: true }, site)
    expect(compiled.public).toBeNull()
    expect(compiled.summary).toBe('authenticated')
  })

  it('summarizes a claim rule that opts in to number claims', () => {
    const compiled = compileGuard(
      { claims: { tenant: { param: 'id', numeric: true }, org: { query: 'org' } } },
      { ...site, params: ['id'] },
    )
    expect(compiled.summary).toBe('claims: tenant = :id (numeric), org = ?org')
  })

  it.each([
    ['an empty guard', {}, 'guard', /is empty/],
    ['an empty public reason', { public: '' }, 'guard.public', /non-empty reason/],
    ['a blank public reason', { public: '   ' }, 'guard.public', /non-empty reason/],
    ['a non-string public', { public: true }, 'guard.public', /string/],
    [
      'an unknown key',
      { pubilc: 'typo' },
      'guard.pubilc',
      /guard\.pubilc is not a known guard key/,
    ],
    [
      'several unknown keys',
      { scopez: ['a'], roles: ['b'] },
      'guard.scopez',
      /guard\.scopez is not a known guard key.*guard\.roles is not a known guard key/,
    ],
    ['authenticated: false', { authenticated: false }, 'guard.authenticated', /must be `true`/],
    ['a guard that is a string', 'public', 'guard', /must be an object/],
    ['a guard that is null', null, 'guard', /must be an object/],
    ['a guard that is an array', [], 'guard', /must be an object/],
    [
      'public combined with a requirement',
      { public: 'x', authenticated: true },
      'guard.public',
      /cannot be combined/,
    ],
  ])('refuses %s, naming the route and the field', (_name, guard, field, message) => {
    const err = configError(guard)
    expect(err.route).toBe('GET /v1/videos/:id')
    expect(err.field).toBe(field)
    expect(err.message).toContain('GET /v1/videos/:id')
    expect(err.message).toContain(field)
    expect(err.message).toMatch(message)
  })

  it('refuses an over-long public reason', () => {
    expect(configError({ public: 'x'.repeat(501) }).field).toBe('guard.public')
  })

  it('names an unknown key and the known key it most likely misspells, in the cause too', () => {
    const err = configError({ scopez: ['videos:read'] })
    expect(err.message).toMatch(/guard\.scopez is not a known guard key.*did you mean 'scopes'\?/)
    const cause = err.cause as { issues: { message: string }[] }
    expect(cause.issues.map((issue) => issue.message)).toEqual([
      "unknown guard key 'scopez' (did you mean 'scopes'?)",
    ])
    expect(configError({ pubilc: 'probe' }).message).toMatch(/did you mean 'public'\?/)
    expect(configError({ Callers: ['a'] }).message).toMatch(/did you mean 'callers'\?/)
    expect(configError({ scopes: { anyof: ['a'] } }).message).toMatch(
      /guard\.scopes\.anyof .*did you mean 'anyOf'\?/,
    )
  })

  it('lists the known keys when an unknown key is close to none', () => {
    const err = configError({ roles: ['admin'] })
    expect(err.message).toMatch(/guard\.roles is not a known guard key.*known keys: public, /)
    expect(err.message).not.toMatch(/did you mean/)
    expect(JSON.stringify(err.cause)).not.toMatch(/must be an object/)
  })

  it('names every requirement a public guard is combined with', () => {
    const err = configError({ public: 'x', authenticated: true, scopes: ['a'], extends: 'p' })
    expect(err.message).toContain(
      'guard.public cannot be combined with guard.authenticated, guard.scopes, guard.extends',
    )
  })

  it('lists at most five invalid fields, separated', () => {
    const err = configError({ a1: 1, a2: 1, a3: 1, a4: 1, a5: 1, a6: 1 })
    expect(err.field).toBe('guard.a1')
    const listed = err.message.replace('GET /v1/videos/:id: ', '').split('; ')
    expect(listed).toHaveLength(5)
    expect(listed.every((part) => /^guard\.a[1-5] is not a known guard key/.test(part))).toBe(true)
  })

  it('refuses extends when no policy is registered, saying so', () => {
    const err = configError({ extends: 'readVideos' })
    expect(err.field).toBe('guard.extends')
    expect(err.message).toBe(
      "GET /v1/videos/:id: guard.extends names no registered policy 'readVideos' (no policies are registered)",
    )
  })

  it('a step-up requirement alone is a requirement', () => {
    expect(compileGuard({ acr: ['mfa'] }, site).summary).toBe('acr: mfa')
    expect(compileGuard({ maxAuthAge: 60 }, site).summary).toBe('maxAuthAge: 60s')
  })

  it('with knownScopes, names only the scopes outside them, from allOf and anyOf', () => {
    const knownScopes = new Set(['videos:read', 'videos:write'])
    expect(
      compileGuard(
        { scopes: { allOf: ['videos:read'], anyOf: ['videos:write'] } },
        { ...site, knownScopes },
      ).summary,
    ).toBe('scopes: videos:read AND videos:write')
    const err = configError(
      { scopes: { allOf: ['videos:read', 'videos:raed'], anyOf: ['videos:write', 'video:write'] } },
      { ...site, knownScopes },
    )
    expect(err.field).toBe('guard.scopes')
    expect(err.message).toContain(
      "guard.scopes names 'videos:raed', 'video:write', not among the knownScopes",
    )
  })

  it("refuses a claim rule naming a parameter the route lacks, listing the route's", () => {
    const rule = { claims: { sub: { param: 'userId' } } }
    expect(configError(rule, { ...site, params: ['id', 'tenant'] }).message).toBe(
      "GET /v1/videos/:id: guard.claims.sub.param names route parameter ':userId', which this route does not have (it has :id, :tenant)",
    )
    expect(configError(rule, { ...site, params: [] }).message).toBe(
      "GET /v1/videos/:id: guard.claims.sub.param names route parameter ':userId', which this route does not have",
    )
  })

  it('a public route is never report-only, whatever the plugin default', () => {
    const compiled = compileGuard({ public: 'probe' }, { ...site, reportOnly: true })
    expect(compiled.reportOnly).toBe(false)
    expect(compileGuard({ authenticated: true }, { ...site, reportOnly: true }).reportOnly).toBe(
      true,
    )
  })

  it('warns only of literal claim values that look like a route parameter', () => {
    const compiled = compileGuard(
      { claims: { tier: 'gold', level: 3, sub: ':id', org: { param: 'id' } } },
      { ...site, params: ['id'] },
    )
    expect(compiled.warnings).toEqual([
      {
        field: 'guard.claims.sub',
        message:
          "GET /v1/videos/:id: guard.claims.sub is the literal ':id', which looks like a route parameter: the claim must equal that text. To compare it with the route parameter, write { param: 'id' }",
      },
    ])
    expect(compileGuard({ claims: { tier: 'gold' } }, site).warnings).toEqual([])
  })
})

describe('routeParams', () => {
  it('lists named parameters, regex-constrained ones too, and the wildcard', () => {
    expect(routeParams('/t/:tenantId/v/:id(^\\d+)')).toEqual(['tenantId', 'id'])
    expect(routeParams('/files/*')).toEqual(['*'])
    expect(routeParams('/static/:dir/*')).toEqual(['dir', '*'])
    expect(routeParams('/plain')).toEqual([])
  })

  it("lets a claim rule compare with a wildcard route's rest of path", () => {
    const compiled = compileGuard(
      { claims: { sub: { param: '*' } } },
      { route: 'GET /home/*', params: routeParams('/home/*') },
    )
    expect(compiled.summary).toBe('claims: sub = :*')
    expect(
      configError(
        { claims: { sub: { param: '*' } } },
        { route: 'GET /home', params: routeParams('/home') },
      ).field,
    ).toBe('guard.claims.sub.param')
  })
})
