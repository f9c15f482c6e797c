import { isPortcullisConfigError } from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import { compileGuard } from './compile-guard.js'

const site = { route: 'GET /v1/videos/:id' }

function configError(guard: unknown) {
  try {
    compileGuard(guard, site)
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
})
