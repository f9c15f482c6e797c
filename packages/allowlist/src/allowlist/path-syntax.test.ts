import { describe, expect, it } from 'vitest'
import { formatPath, ITEMS, parsePath, STAR } from './path-syntax.js'

describe('parsePath', () => {
  it.each([
    ['id', ['id']],
    ['owner.id', ['owner', 'id']],
    ['tags[]', ['tags', ITEMS]],
    ['items[].title', ['items', ITEMS, 'title']],
    ['stats.*', ['stats', STAR]],
    ['[].id', [ITEMS, 'id']],
    ['[]', [ITEMS]],
    ['*', [STAR]],
    ['[].*', [ITEMS, STAR]],
    ['matrix[][]', ['matrix', ITEMS, ITEMS]],
    ['a.b-c.d:e.0', ['a', 'b-c', 'd:e', '0']],
    ['données.clé', ['données', 'clé']],
  ])('parses %s', (text, segments) => {
    const parsed = parsePath(text)
    expect(parsed).toEqual({ ok: true, path: segments })
    if (parsed.ok) expect(formatPath(parsed.path)).toBe(text)
  })

  it.each([
    ['', /is empty/],
    ['a..b', /empty segment at character 3/],
    ['.a', /empty segment at character 1/],
    ['a.', /ends with an empty segment/],
    ['a[', /'\[' without '\]'/],
    ['a[0]', /'\[' without '\]'/],
    ['a]', /stray '\]'/],
    ['[]x', /must continue with '\.' or '\[\]' after '\[\]'/],
    ['a.[]', /empty segment before '\[\]'/],
    ['a b', /whitespace at character 2/],
    [' a', /whitespace/],
    ['a\tb', /whitespace/],
    ['*.a', /'\*' before its end/],
    ['a.*.b', /'\*' before its end/],
    ['a*', /'\*' inside a key/],
    ['a[]*', /must continue/],
    ['__proto__', /'__proto__', a key that is never copied/],
    ['a.constructor', /'constructor'/],
    ['items[].prototype', /'prototype'/],
    ['x'.repeat(600), /longer than 512/],
    [Array.from({ length: 40 }, () => 'a').join('.'), /more than 32 segments/],
  ])('refuses %j', (text, reason) => {
    const parsed = parsePath(text)
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) expect(parsed.reason).toMatch(reason)
  })
})
