// What compileAllowlist decides beside the projection walk: the exposure register's view, the
// list picked per status (classes, exact codes, success or error), byScope fields and caps per
// principal, the startup checks of scopes and caps, and failures raised while projecting.
import {
  AuthorizationError,
  isPortcullisConfigError,
  type PortcullisConfigError,
} from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import { compileAllowlist, type CompileAllowlistOptions } from './compile-allowlist.js'

const route = 'GET /v1/videos'
const none: ReadonlySet<string> = new Set()

function configError(spec: unknown, options: CompileAllowlistOptions = {}): PortcullisConfigError {
  try {
    compileAllowlist(spec, { route, ...options })
  } catch (err) {
    if (isPortcullisConfigError(err)) return err
    throw err
  }
  throw new Error('expected a startup error')
}

function project(
  spec: unknown,
  body: unknown,
  status = 200,
  scopes: readonly string[] = [],
  collectRemoved = false,
) {
  return compileAllowlist(spec, { route }).project(body, {
    status,
    scopes: new Set(scopes),
    collectRemoved,
  })
}

describe('the exposure register', () => {
  it('lists paths, lists per scope and status, and caps, sorted and deduplicated', () => {
    const allowlist = compileAllowlist(
      {
        allow: ['title', 'tags[]', 'items[].id', 'id', 'title'],
        byScope: { 'z:admin': ['secret', 'items[].cost'], 'a:ops': ['host'] },
        byStatus: { '5xx': ['code'], '404': ['code'], '2xx': ['id', 'items[].id'] },
        maxItems: {
          default: 10,
          paths: { 'tags[]': 3, 'items[]': 5 },
          byScope: { 'z:admin': { default: 50 }, 'a:ops': { paths: { 'tags[]': 9 } } },
        },
      },
      { route, schema: undefined },
    )
    expect(allowlist.exposure).toEqual({
      kind: 'allowlist',
      mode: 'strip',
      allow: ['id', 'items[].id', 'tags[]', 'title'],
      byScope: { 'a:ops': ['host'], 'z:admin': ['items[].cost', 'secret'] },
      byStatus: { '2xx': ['id', 'items[].id'], '404': ['code'], '5xx': ['code'] },
      maxItems: {
        default: 10,
        paths: { 'items[]': 5, 'tags[]': 3 },
        byScope: {
          'a:ops': { default: null, paths: { 'tags[]': 9 } },
          'z:admin': { default: 50, paths: {} },
        },
      },
      classify: expect.anything() as unknown,
    })
    const exposure = allowlist.exposure as Extract<typeof allowlist.exposure, { kind: 'allowlist' }>
    // Sorted, so that equal policies compare equal whatever their declaration order.
    expect(Object.keys(exposure.byScope)).toEqual(['a:ops', 'z:admin'])
    // (An integer key comes first in any object.)
    expect(Object.keys(exposure.byStatus)).toEqual(['404', '2xx', '5xx'])
    expect(Object.keys(exposure.maxItems!.paths)).toEqual(['items[]', 'tags[]'])
    expect(Object.keys(exposure.maxItems!.byScope)).toEqual(['a:ops', 'z:admin'])
  })

  it('without maxItems, no caps; a passthrough is its reason', () => {
    const plain = compileAllowlist({ allow: ['id'] }, { route })
    expect(plain.exposure).toMatchObject({ kind: 'allowlist', maxItems: null, byScope: {} })
    expect(compileAllowlist({ passthrough: 'a file download' }, { route }).exposure).toEqual({
      kind: 'passthrough',
      reason: 'a file download',
    })
  })
  it('sorts three or more keys too, whatever their order', () => {
    const exposure = compileAllowlist(
      {
        allow: ['b[]', 'c[]', 'a[]'],
        byScope: { b: ['x'], c: ['y'], a: ['z'] },
        byStatus: { '4xx': ['code'], '5xx': ['code'], '2xx': ['id'] },
        maxItems: {
          paths: { 'b[]': 1, 'c[]': 1, 'a[]': 1 },
          byScope: {
            b: { paths: { 'a[]': 2 } },
            c: { paths: { 'a[]': 2 } },
            a: { paths: { 'a[]': 2 } },
          },
        },
      },
      { route },
    ).exposure as Extract<ReturnType<typeof compileAllowlist>['exposure'], { kind: 'allowlist' }>
    expect(Object.keys(exposure.byScope)).toEqual(['a', 'b', 'c'])
    expect(Object.keys(exposure.byStatus)).toEqual(['2xx', '4xx', '5xx'])
    expect(Object.keys(exposure.maxItems!.paths)).toEqual(['a[]', 'b[]', 'c[]'])
    expect(Object.keys(exposure.maxItems!.byScope)).toEqual(['a', 'b', 'c'])
  })
})

describe('the list a status picks', () => {
  const spec = {
    allow: ['id'],
    byScope: { admin: ['secret'] },
    byStatus: { '2xx': ['id', 'name'], '201': ['id'], '4xx': ['code', 'secret'], '404': ['code'] },
    mode: 'reject',
  }
  const body = { id: 1, name: 'n', code: 'C', secret: 's' }

  it('a class list for its statuses, an exact code over its class', () => {
    expect(project({ ...spec, mode: 'strip' }, body, 200)).toMatchObject({
      value: { id: 1, name: 'n' },
    })
    expect(project({ ...spec, mode: 'strip' }, body, 201)).toMatchObject({ value: { id: 1 } })
    expect(project({ ...spec, mode: 'strip' }, body, 409)).toMatchObject({
      value: { code: 'C', secret: 's' },
    })
    expect(project({ ...spec, mode: 'strip' }, body, 404)).toMatchObject({ value: { code: 'C' } })
  })

  it('byScope fields and reject mode apply to success lists only', () => {
    expect(project(spec, { id: 1, secret: 's' }, 201, ['admin'])).toMatchObject({
      ok: true,
      value: { id: 1, secret: 's' },
    })
    expect(project(spec, { id: 1, name: 'n', secret: 's' }, 200, ['admin'])).toMatchObject({
      ok: true,
      value: { id: 1, name: 'n', secret: 's' },
    })
    const refused = project(spec, { id: 1, extra: 'x' }, 201)
    expect(refused).toMatchObject({ ok: false, removed: ['extra'] })
    // An error list: stripped, never refused, and no byScope field added.
    expect(project(spec, { code: 'C', secret: 's', extra: 'x' }, 404, ['admin'])).toMatchObject({
      ok: true,
      value: { code: 'C' },
    })
    expect(project(spec, { code: 'C', extra: 'x' }, 409, ['admin'])).toMatchObject({
      ok: true,
      value: { code: 'C' },
    })
  })

  it('without byStatus, 400 and above get the problem fields, below 400 the allowlist', () => {
    const problem = {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'd',
      id: 7,
      secret: 's',
    }
    expect(project({ allow: ['id'] }, problem, 400)).toMatchObject({
      value: { type: 'about:blank', title: 'Bad Request', status: 400, detail: 'd' },
    })
    expect(project({ allow: ['id'] }, problem, 399)).toMatchObject({ value: { id: 7 } })
  })

  it('a passthrough route serves success bodies as they are and strips error bodies, reporting on request', () => {
    const spec = { passthrough: 'a file download' }
    const body = { detail: 'd', stack: 'at x', code: 'E' }
    expect(project(spec, body, 399).ok && project(spec, body, 399)).toMatchObject({ value: body })
    expect(project(spec, body, 400)).toEqual({
      ok: true,
      value: { detail: 'd', code: 'E' },
      removed: [],
    })
    expect(project(spec, body, 500, [], true)).toEqual({
      ok: true,
      value: { detail: 'd', code: 'E' },
      removed: ['stack'],
    })
  })
})

describe('caps per principal', () => {
  const items = (n: number) => ({ items: Array.from({ length: n }, (_, id) => ({ id })) })

  it('a scope raises a cap, never lowers it; scopes with fields only change no cap', () => {
    const spec = {
      allow: ['items[].id'],
      byScope: { reader: ['items[].name'] },
      maxItems: { default: 3, byScope: { bulk: { default: 5 }, tiny: { default: 1 } } },
    }
    expect(project(spec, items(3)).ok).toBe(true)
    expect(project(spec, items(4))).toMatchObject({
      ok: false,
      error: { code: 'PCL_TOO_MANY_ITEMS' },
    })
    expect(project(spec, items(5), 200, ['bulk']).ok).toBe(true)
    expect(project(spec, items(6), 200, ['bulk']).ok).toBe(false)
    expect(project(spec, items(3), 200, ['tiny']).ok).toBe(true)
    expect(project(spec, items(3), 200, ['reader']).ok).toBe(true)
    expect(project(spec, items(4), 200, ['reader', 'tiny']).ok).toBe(false)
    expect(project(spec, items(5), 200, ['reader', 'bulk']).ok).toBe(true)
  })

  it('an error body with a scope that carries caps gets no byScope field', () => {
    const spec = {
      allow: ['items[].id'],
      byScope: { admin: ['items[].secret'] },
      byStatus: { '4xx': ['items[].id'] },
      maxItems: { default: 2, byScope: { admin: { default: 4 } } },
    }
    const body = { items: [{ id: 1, secret: 's' }] }
    expect(project(spec, body, 404, ['admin'])).toEqual({
      ok: true,
      value: { items: [{ id: 1 }] },
      removed: [],
    })
    expect(project(spec, body, 200, ['admin'])).toMatchObject({
      value: { items: [{ id: 1, secret: 's' }] },
    })
  })

  it('a cap may name an array that only a byScope or byStatus list reaches', () => {
    expect(() =>
      compileAllowlist(
        {
          allow: ['id'],
          byScope: { admin: ['audit[].at'] },
          byStatus: { '2xx': ['id', 'rows[].id'] },
          maxItems: { paths: { 'audit[]': 2, 'rows[]': 2 } },
        },
        { route, scopesGranted: new Set(['admin']) },
      ),
    ).not.toThrow()
  })

  it('up to 30 scopes may change a response; a 31st is refused at startup', () => {
    const scopes = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, [`f${i}`]]))
    expect(() => compileAllowlist({ allow: ['id'], byScope: scopes(30) }, { route })).not.toThrow()
    const err = configError({ allow: ['id'], byScope: scopes(31) })
    expect(err.field).toBe('guard.response.byScope')
    expect(err.message).toContain('names 31 scopes; at most 30 scopes may change a response')
  })
})

describe('startup checks of scopes and caps', () => {
  it('accepts byScope and maxItems.byScope scopes the route grants', () => {
    const granted = new Set(['admin', 'bulk'])
    expect(() =>
      compileAllowlist(
        { allow: ['id'], byScope: { admin: ['secret'] } },
        { route, scopesGranted: granted },
      ),
    ).not.toThrow()
    expect(() =>
      compileAllowlist(
        { allow: ['items[].id'], maxItems: { default: 2, byScope: { bulk: { default: 9 } } } },
        { route, scopesGranted: granted },
      ),
    ).not.toThrow()
  })

  it('names the scopes a route grants, or that it grants none', () => {
    expect(
      configError({ allow: ['id'], byScope: { admin: ['x'] } }, { scopesGranted: none }).message,
    ).toBe(
      'GET /v1/videos: guard.response.byScope.admin names a scope this route never grants (it grants no scope): its fields could never be shown',
    )
    expect(
      configError(
        { allow: ['items[].id'], maxItems: { default: 1, byScope: { bulk: { default: 2 } } } },
        { scopesGranted: new Set(['a', 'b']) },
      ).message,
    ).toBe(
      'GET /v1/videos: guard.response.maxItems.byScope.bulk names a scope this route never grants (it grants a, b): its caps could never apply',
    )
  })

  it('names the arrays an allowlist reaches when a cap names another', () => {
    expect(
      configError({ allow: ['items[].id', 'tags[]'], maxItems: { paths: { 'rows[]': 2 } } })
        .message,
    ).toBe(
      'GET /v1/videos: guard.response.maxItems.paths.rows[] names an array the allowlist does not reach (it reaches items[], tags[])',
    )
    expect(configError({ allow: ['id'], maxItems: { paths: { 'rows[]': 2 } } }).message).toBe(
      'GET /v1/videos: guard.response.maxItems.paths.rows[] names an array the allowlist does not reach (it reaches none)',
    )
    const scoped = configError({
      allow: ['items[].id'],
      maxItems: { default: 2, byScope: { bulk: { paths: { 'rows[]': 9 } } } },
    })
    expect(scoped.field).toBe('guard.response.maxItems.byScope.bulk.paths.rows[]')
    expect(scoped.message).toContain(
      'names an array the allowlist does not reach (it reaches items[])',
    )
  })

  it('a scope may raise a declared default or path cap, and add none', () => {
    expect(() =>
      compileAllowlist(
        {
          allow: ['items[].id'],
          maxItems: { default: 2, byScope: { bulk: { paths: { 'items[]': 9 } } } },
        },
        { route },
      ),
    ).not.toThrow()
    expect(() =>
      compileAllowlist(
        {
          allow: ['items[].id'],
          maxItems: { paths: { 'items[]': 2 }, byScope: { bulk: { paths: { 'items[]': 9 } } } },
        },
        { route },
      ),
    ).not.toThrow()
    expect(configError({ allow: ['id'], maxItems: 5 }).message).toBe(
      "GET /v1/videos: guard.response.maxItems caps arrays, but the allowlist reaches none: declare the array ('[].id', 'items[].id') or drop maxItems",
    )
    expect(
      configError({
        allow: ['items[].id', 'tags[]'],
        maxItems: { paths: { 'tags[]': 2 }, byScope: { bulk: { paths: { 'items[]': 9 } } } },
      }).message,
    ).toBe(
      "GET /v1/videos: guard.response.maxItems.byScope.bulk.paths.items[] raises a cap that is not declared: a scope can raise a cap, never add one (declare maxItems.paths['items[]'])",
    )
    const noDefault = configError({
      allow: ['items[].id'],
      maxItems: { paths: { 'items[]': 2 }, byScope: { bulk: { default: 9 } } },
    })
    expect(noDefault.field).toBe('guard.response.maxItems.byScope.bulk')
    expect(noDefault.message).toContain(
      'raises a default cap that is not declared: a scope can raise a cap, never add one (declare maxItems.default)',
    )
  })
})

describe('failures while projecting', () => {
  it('a toJSON throwing anything, a Portcullis error or null included, is a 500 PCL_RESPONSE_REJECTED', () => {
    for (const thrown of [
      new AuthorizationError('PCL_INSUFFICIENT_SCOPE'),
      null,
      undefined,
      'text',
    ]) {
      const body = {
        toJSON() {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- what handler code may throw
          throw thrown
        },
      }
      for (const collectRemoved of [false, true]) {
        const result = project({ allow: ['id'] }, body, 200, [], collectRemoved)
        expect(result.ok).toBe(false)
        if (result.ok) continue
        expect(result.error.code).toBe('PCL_RESPONSE_REJECTED')
        expect(result.error.status).toBe(500)
        expect(result.error.cause).toBe(thrown)
      }
    }
  })

  it('the root toJSON is given the empty key, audited or not', () => {
    for (const collectRemoved of [false, true]) {
      const keys: unknown[] = []
      const body = {
        toJSON(key: unknown) {
          keys.push(key)
          return { id: 1, secret: 's' }
        },
      }
      expect(project({ allow: ['id'] }, body, 200, [], collectRemoved)).toMatchObject({
        ok: true,
        value: { id: 1 },
      })
      expect(keys).toEqual([''])
    }
  })

  it('paths reported by one projection do not leak into the next', () => {
    const allowlist = compileAllowlist({ allow: ['id'] }, { route })
    const context = { status: 200, scopes: none, collectRemoved: true }
    expect(allowlist.project({ id: 1, a: 1 }, context).removed).toEqual(['a'])
    expect(allowlist.project({ id: 1, b: 1 }, context).removed).toEqual(['b'])
    expect(allowlist.project({ id: 1 }, context).removed).toEqual([])
  })
})

describe('the trie of an allowlist', () => {
  it('a declared leaf keeps an object empty, whatever its keys', () => {
    const body = { owner: { undefined: 's', x: 1 }, id: 1 }
    expect(project({ allow: ['owner', 'id'] }, body)).toMatchObject({ value: { owner: {}, id: 1 } })
    expect(project({ allow: ['owner', 'id'] }, body, 200, [], true)).toMatchObject({
      value: { owner: {}, id: 1 },
    })
  })

  it("counts an array's elements and its keys as two fields", () => {
    expect(compileAllowlist({ allow: ['a[]', 'a.*'] }, { route }).summary).toBe('2 fields; strip')
    expect(compileAllowlist({ allow: ['a[]', 'a[]'] }, { route }).summary).toBe('1 field; strip')
  })
})
