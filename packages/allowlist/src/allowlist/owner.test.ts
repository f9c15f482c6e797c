import { isPortcullisConfigError, type Principal } from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import { compileAllowlist } from './compile-allowlist.js'

const route = 'GET /v1/history'

function startupError(spec: unknown): { field: string | undefined; message: string } {
  try {
    compileAllowlist(spec, { route })
  } catch (err) {
    if (isPortcullisConfigError(err) && err.code === 'PCL_INVALID_GUARD') {
      return { field: err.field, message: err.message }
    }
    throw err
  }
  throw new Error('expected a PCL_INVALID_GUARD error')
}

const allow = ['items[].id', 'items[].ownerId']

describe('guard.response.owner: startup errors name the route and the field', () => {
  it.each([
    [
      'a path outside every array',
      { path: 'ownerId', claim: 'sub' },
      'guard.response.owner.path',
      /must go through an array/,
    ],
    [
      'a path that ends at the array',
      { path: 'items[]', claim: 'sub' },
      'guard.response.owner.path',
      /must name the owner field/,
    ],
    [
      "a '*' path",
      { path: 'items[].*', claim: 'sub' },
      'guard.response.owner.path',
      /must not contain '\*'/,
    ],
    [
      'a bad path',
      { path: 'items[]..id', claim: 'sub' },
      'guard.response.owner.path',
      /empty segment/,
    ],
    [
      'a prototype key in the path',
      { path: 'items[].__proto__', claim: 'sub' },
      'guard.response.owner.path',
      /never copied/,
    ],
    [
      'an empty claim',
      { path: 'items[].ownerId', claim: '' },
      'guard.response.owner.claim',
      /non-empty/,
    ],
    [
      'a claim with a space',
      { path: 'items[].ownerId', claim: 'sub ' },
      'guard.response.owner.claim',
      /whitespace/,
    ],
    [
      'a prototype claim',
      { path: 'items[].ownerId', claim: '__proto__' },
      'guard.response.owner.claim',
      /prototype key/,
    ],
    [
      'a claim that is not a string',
      { path: 'items[].ownerId', claim: 7 },
      'guard.response.owner.claim',
      /claim name string/,
    ],
    [
      'an unknown mode',
      { path: 'items[].ownerId', claim: 'sub', mode: 'drop' },
      'guard.response.owner.mode',
      /'strip' or 'reject'/,
    ],
    [
      'an unknown key',
      { path: 'items[].ownerId', claim: 'sub', claims: 'x' },
      'guard.response.owner.claims',
      /claims/,
    ],
    [
      'a check whose path is a field',
      { path: 'items[].ownerId', check: () => true },
      'guard.response.owner.path',
      /must end at the array .*'items\[\]'/,
    ],
    [
      'neither claim nor check',
      { path: 'items[].ownerId' },
      'guard.response.owner.claim',
      /claim name/,
    ],
    ['a string', 'sub', 'guard.response.owner', /must be \{ path/],
  ])('%s', (_name, owner, field, message) => {
    const error = startupError({ allow, owner })
    expect(error.field).toBe(field)
    expect(error.message).toMatch(message)
    expect(error.message).toContain(route)
  })

  it('refuses an owner field the allowlist does not keep (it would drop every object)', () => {
    const error = startupError({
      allow: ['items[].id'],
      owner: { path: 'items[].ownerId', claim: 'sub' },
    })
    expect(error.field).toBe('guard.response.allow')
    expect(error.message).toMatch(/keeps 'items\[\]' but not the owner field 'items\[\]\.ownerId'/)
  })

  it('refuses an array no list keeps', () => {
    const error = startupError({ allow: ['id'], owner: { path: 'items[].ownerId', claim: 'sub' } })
    expect(error.field).toBe('guard.response.owner.path')
    expect(error.message).toMatch(/an array the allowlist does not keep/)
    const alone = startupError({ allow: ['items[].id'], owner: () => true })
    expect(alone.field).toBe('guard.response.owner')
    expect(alone.message).toMatch(/'\[\]'/)
  })

  it('refuses a byStatus list that keeps the array without the owner field', () => {
    const error = startupError({
      allow,
      byStatus: { '206': ['items[].id'], '404': ['code'] },
      owner: { path: 'items[].ownerId', claim: 'sub' },
    })
    expect(error.field).toBe('guard.response.byStatus.206')
  })

  it('refuses a byScope list that adds the array without the owner field, unless the base list keeps it', () => {
    const error = startupError({
      allow: ['id'],
      byScope: { 'history:read': ['items[].id'] },
      owner: { path: 'items[].ownerId', claim: 'sub' },
    })
    expect(error.field).toBe('guard.response.byScope.history:read')
    expect(() =>
      compileAllowlist({
        allow: ['id', 'items[].ownerId'],
        byScope: { 'history:read': ['items[].id'] },
        owner: { path: 'items[].ownerId', claim: 'sub' },
      }),
    ).not.toThrow()
  })

  it('checks byScope lists against success lists only, and only those that reach the array', () => {
    // The 4xx list keeps neither the array nor the owner field: it is no base for byScope lists.
    expect(() =>
      compileAllowlist({
        allow: ['items[].id', 'items[].ownerId'],
        byScope: { admin: ['items[].secret'] },
        byStatus: { '4xx': ['code'] },
        owner: { path: 'items[].ownerId', claim: 'sub' },
      }),
    ).not.toThrow()
    // A byScope list that does not reach the array needs no owner field, whatever the base.
    expect(() =>
      compileAllowlist({
        allow: ['items[].id', 'items[].ownerId'],
        byScope: { admin: ['note'] },
        byStatus: { '201': ['id'] },
        owner: { path: 'items[].ownerId', claim: 'sub' },
      }),
    ).not.toThrow()
  })

  it('accepts an owner field kept by a `*` object', () => {
    expect(() =>
      compileAllowlist({
        allow: ['items[].owner.*'],
        owner: { path: 'items[].owner.id', claim: 'sub' },
      }),
    ).not.toThrow()
  })

  it('names the rule in the summary', () => {
    expect(
      compileAllowlist({ allow, owner: { path: 'items[].ownerId', claim: 'sub' } }).summary,
    ).toBe('2 fields; owner items[].ownerId = sub; strip')
    expect(
      compileAllowlist({ allow, owner: { path: 'items[]', check: () => true, mode: 'reject' } })
        .summary,
    ).toBe('2 fields; owner items[] by check (reject); strip')
  })
})

const principal = (claims: Record<string, unknown>): Principal =>
  Object.freeze({
    subject: String(claims.sub),
    issuer: 'https://issuer.test',
    clientId: null,
    scopes: new Set<string>(),
    claims,
  })

describe('guard.response.owner: the projection', () => {
  const compiled = compileAllowlist({ allow, owner: { path: 'items[].ownerId', claim: 'sub' } })

  it('checks what leaves: the projected copy, never the input', () => {
    const body = {
      items: [
        { id: 1, ownerId: 'u1', secret: 'x' },
        { id: 2, ownerId: 'u2' },
      ],
    }
    const before = JSON.stringify(body)
    const result = compiled.project(body, {
      status: 200,
      scopes: new Set(),
      principal: principal({ sub: 'u1' }),
    })
    expect(result).toEqual({
      ok: true,
      value: { items: [{ id: 1, ownerId: 'u1' }] },
      removed: [],
      notOwned: 1,
    })
    expect(JSON.stringify(body)).toBe(before)
  })

  it('reads a getter or toJSON of the handler once: the check sees the value that leaves', () => {
    let reads = 0
    const item = {
      id: 1,
      get ownerId() {
        reads++
        return reads === 1 ? 'u1' : 'u2'
      },
    }
    const result = compiled.project(
      { items: [item] },
      { status: 200, scopes: new Set(), principal: principal({ sub: 'u1' }) },
    )
    expect(result).toMatchObject({ ok: true, value: { items: [{ id: 1, ownerId: 'u1' }] } })
    expect(reads).toBe(1)
  })

  it('without a principal, nothing belongs to the caller; a check is never called', () => {
    let called = false
    const checked = compileAllowlist({
      allow: ['[].id'],
      owner: () => {
        called = true
        return true
      },
    })
    const result = checked.project([{ id: 1 }], { status: 200, scopes: new Set() })
    expect(result).toMatchObject({ ok: true, value: [], notOwned: 1 })
    expect(called).toBe(false)
  })

  it('an error status whose list does not keep the array is left as it is', () => {
    const result = compiled.project(
      { title: 'Not found', status: 404, items: [{ ownerId: 'u2' }] },
      { status: 404, scopes: new Set(), principal: principal({ sub: 'u1' }) },
    )
    expect(result).toEqual({ ok: true, value: { title: 'Not found', status: 404 }, removed: [] })
  })

  it('a check returning a Promise owns nothing (checks are synchronous)', () => {
    const checked = compileAllowlist({
      allow: ['[].id'],
      owner: (() => Promise.resolve(true)) as never,
    })
    const result = checked.project([{ id: 1 }], {
      status: 200,
      scopes: new Set(),
      principal: principal({ sub: 'u1' }),
    })
    expect(result).toMatchObject({ ok: true, value: [], notOwned: 1 })
  })
})
