import { PortcullisConfigError } from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import { createBudgetNames, planEgress, type EgressGuard, type EgressSite } from './plan-egress.js'

// What a route's `guard.budget` and `guard.enumeration` resolve to, the inventory's columns, and
// the startup errors, framework-free. The adapters' suites (test/cases/egress.ts) declare them on
// real routes.

const site: EgressSite = { label: 'GET /r', isPublic: false, defaultKey: 'principal' }

function plan(guard: Partial<EgressGuard>, at: Partial<EgressSite> = {}) {
  return planEgress(
    { budget: undefined, enumeration: undefined, response: { allow: ['id'] }, ...guard },
    { ...site, ...at },
  )
}

function refusal(run: () => unknown): PortcullisConfigError {
  try {
    run()
  } catch (err) {
    if (err instanceof PortcullisConfigError) return err
    throw err
  }
  throw new Error('not refused')
}

const budget = { unit: 'items', max: 10, timeWindow: '1 hour' } as const

describe('planEgress', () => {
  it('resolves a budget: defaults, the counted path, byScope in order', () => {
    expect(plan({ budget }).budget).toEqual({
      name: null,
      unit: 'items',
      max: 10,
      timeWindow: 3_600_000,
      key: 'principal',
      byScope: [],
      overdraw: 'serve',
      path: null,
    })
    const full = plan({
      budget: {
        ...budget,
        name: 'history',
        key: 'client',
        byScope: { 'a:b': 20, c: 30 },
        overdraw: 'refuse',
        path: 'data.results[]',
      },
    }).budget
    expect(full).toMatchObject({
      name: 'history',
      key: 'client',
      byScope: [
        ['a:b', 20],
        ['c', 30],
      ],
      overdraw: 'refuse',
      path: ['data', 'results'],
    })
    expect(Object.isFrozen(full)).toBe(true)
    expect(plan({ budget: { ...budget, path: 'items' } }).budget?.path).toEqual(['items'])
    expect(plan({ budget: { ...budget, path: '[]' } }).budget?.path).toEqual([])
  })

  it('resolves an enumeration limit on a route or a query parameter', () => {
    expect(
      plan({ enumeration: { param: 'id', maxDistinct: 3, timeWindow: 1000 } }).enumeration,
    ).toEqual({ source: 'param', name: 'id', maxDistinct: 3, timeWindow: 1000, key: 'principal' })
    expect(
      plan({ enumeration: { query: 'user', maxDistinct: 3, timeWindow: 1000, key: 'ip' } })
        .enumeration,
    ).toEqual({ source: 'query', name: 'user', maxDistinct: 3, timeWindow: 1000, key: 'ip' })
    expect(plan({})).toEqual({
      budget: null,
      enumeration: null,
      budgetSummary: null,
      enumerationSummary: null,
    })
  })

  it("a budget counts what guard.response: 'schema' lets out", () => {
    expect(plan({ budget, response: 'schema' }).budget).toMatchObject({ unit: 'items', max: 10 })
  })

  it('a response the allowlist refuses itself (null) is left to it', () => {
    // The allowlist's error names guard.response; the budget has nothing to add.
    expect(plan({ budget, response: null }).budget).not.toBeNull()
  })

  it('a public route counts by IP: no other key', () => {
    const at = { isPublic: true }
    expect(plan({ budget }, at).budget?.key).toBe('ip')
    expect(plan({ budget: { ...budget, key: 'ip' } }, at).budget?.key).toBe('ip')
    expect(
      plan({ enumeration: { param: 'id', maxDistinct: 3, timeWindow: 1000 } }, at).enumeration?.key,
    ).toBe('ip')
    const budgetKey = refusal(() => plan({ budget: { ...budget, key: 'principal' } }, at))
    expect(budgetKey).toMatchObject({ code: 'PCL_INVALID_GUARD', field: 'guard.budget.key' })
    expect(budgetKey.message).toBe(
      "GET /r: guard.budget.key must be 'ip' or left out on a public route",
    )
    const enumerationKey = refusal(() =>
      plan({ enumeration: { param: 'id', maxDistinct: 3, timeWindow: 1000, key: () => 'k' } }, at),
    )
    expect(enumerationKey).toMatchObject({ field: 'guard.enumeration.key', route: 'GET /r' })
  })

  it.each([
    [{ budget, response: undefined }, 'guard.budget', /declare guard.response/],
    [{ budget, response: { passthrough: 'legacy' } }, 'guard.budget', /not a passthrough/],
    [{ budget: { ...budget, unit: 'bytes', path: 'items' } }, 'guard.budget.path', /'items' only/],
    [{ budget: { ...budget, path: 'a..b' } }, 'guard.budget.path', /must name an array/],
    [{ budget: { ...budget, name: 'has space' } }, 'guard.budget.name', /printable/],
    [{ budget: { ...budget, byScope: {} } }, 'guard.budget.byScope', /at least one scope/],
    [{ budget: { ...budget, extra: 1 } }, 'guard.budget.extra', /not a known setting/],
    [
      { enumeration: { param: 'id', query: 'q', maxDistinct: 1, timeWindow: 1 } },
      'guard.enumeration',
      /exactly one/,
    ],
    [
      { enumeration: { param: 'a b', maxDistinct: 1, timeWindow: 1 } },
      'guard.enumeration.param',
      /parameter/,
    ],
    [
      { enumeration: { param: 'id', maxDistinct: 100_001, timeWindow: 1 } },
      'guard.enumeration.maxDistinct',
      /100000/,
    ],
    [
      { enumeration: { param: 'id', maxDistinct: 1, timeWindow: 1, other: 1 } },
      'guard.enumeration.other',
      /not a known setting/,
    ],
  ])('%j is refused, naming %s', (guard, field, message) => {
    const err = refusal(() => plan(guard))
    expect(err).toMatchObject({ code: 'PCL_INVALID_GUARD', field, route: 'GET /r' })
    expect(err.message).toMatch(/^GET \/r: /)
    expect(err.message).toMatch(message)
  })
})

describe("the inventory's columns", () => {
  it.each([
    [budget, '10 items per 1 hour by principal'],
    [{ ...budget, name: 'h' }, '10 items per 1 hour by principal (budget h)'],
    [{ ...budget, path: 'items' }, '10 items per 1 hour by principal (counts items[])'],
    [
      { ...budget, path: 'data.results[]' },
      '10 items per 1 hour by principal (counts data.results[])',
    ],
    [{ ...budget, path: '[]' }, '10 items per 1 hour by principal (counts [])'],
    [
      { ...budget, name: 'h', path: '[]', overdraw: 'refuse' },
      '10 items per 1 hour by principal (budget h, counts [], overdraw refused)',
    ],
    [{ ...budget, overdraw: 'serve' }, '10 items per 1 hour by principal'],
    [
      {
        unit: 'bytes',
        max: 5000,
        timeWindow: 90_000,
        key: 'client',
        byScope: { a: 6000, b: 7000 },
      },
      '5000 bytes per 90 seconds by client; 6000 with a; 7000 with b',
    ],
    [
      {
        ...budget,
        key: function tenant() {
          return 't'
        },
      },
      '10 items per 1 hour by key function tenant',
    ],
  ])('%j reads %s', (b, summary) => {
    expect(plan({ budget: b }).budgetSummary).toBe(summary)
  })

  it('an enumeration limit reads :param or ?query', () => {
    expect(
      plan({ enumeration: { param: 'id', maxDistinct: 200, timeWindow: '1 hour' } })
        .enumerationSummary,
    ).toBe('200 distinct :id per 1 hour by principal')
    expect(
      plan({ enumeration: { query: 'user', maxDistinct: 2, timeWindow: 60_000, key: 'ip' } })
        .enumerationSummary,
    ).toBe('2 distinct ?user per 1 minute by ip')
  })
})

describe('named budgets', () => {
  const named = { ...budget, name: 'h' }

  it('routes naming one budget must declare one limit; unnamed budgets never conflict', () => {
    const check = createBudgetNames()
    expect(check('GET /a', plan({ budget: named }))).toBeNull()
    expect(check('GET /b', plan({ budget: named }))).toBeNull()
    // What is per route (the counted path, overdraw) may differ.
    expect(
      check('GET /c', plan({ budget: { ...named, path: 'items', overdraw: 'refuse' } })),
    ).toBeNull()
    expect(check('GET /d', plan({ budget: { ...budget, max: 99 } }))).toBeNull()
    expect(check('GET /d2', plan({ budget: { ...budget, unit: 'bytes', max: 5 } }))).toBeNull()
    expect(check('GET /e', plan({}))).toBeNull()
    expect(check('GET /f', plan({ budget: { ...named, name: 'other', max: 99 } }))).toBeNull()
    const err = check('GET /g', plan({ budget: { ...named, max: 11 } }))
    expect(err).toMatchObject({
      code: 'PCL_INVALID_GUARD',
      field: 'guard.budget.name',
      route: 'GET /g',
    })
    expect(err?.message).toBe(
      "GET /g: guard.budget.name 'h' is declared with another limit by GET /a: routes sharing a budget must declare the same unit, max, timeWindow, key and byScope",
    )
  })

  it.each([
    ['unit', { unit: 'bytes' }],
    ['max', { max: 11 }],
    ['timeWindow', { timeWindow: '2 hours' }],
    ['key', { key: 'client' }],
    ['key function', { key: () => 'k' }],
    ['byScope', { byScope: { bulk: 100 } }],
  ])('another %s is another limit', (_name, change) => {
    const check = createBudgetNames()
    expect(check('GET /a', plan({ budget: named }))).toBeNull()
    expect(check('GET /b', plan({ budget: { ...named, ...change } }))).toBeInstanceOf(
      PortcullisConfigError,
    )
  })
})
