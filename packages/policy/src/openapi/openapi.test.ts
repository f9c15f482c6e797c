import { describe, expect, it } from 'vitest'
import type { InventoryEntry, RouteAccess } from '../inventory/index.js'
import { applyGuards, documentSettings } from './merge.js'
import { guardedOperation } from './operation.js'
import { allowlistSchema } from './response-schema.js'

const any = {}

describe('allowlistSchema', () => {
  it('nests paths, keeps a field allowed whole, and opens objects with a wildcard', () => {
    expect(allowlistSchema(['owner', 'owner.id', 'a.b.c', 'stats.*', 'stats.views'], null)).toEqual(
      {
        type: 'object',
        additionalProperties: false,
        properties: {
          a: {
            type: 'object',
            additionalProperties: false,
            properties: {
              b: { type: 'object', additionalProperties: false, properties: { c: any } },
            },
          },
          owner: any,
          stats: { type: 'object', properties: { views: any } },
        },
      },
    )
  })

  it('describes top-level and nested arrays, capped by maxItems per path or by default', () => {
    const schema = allowlistSchema(['[].id', '[].grid[][]'], {
      default: 100,
      paths: { '[].grid[]': 3 },
      byScope: {},
    })
    expect(schema).toEqual({
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          grid: { type: 'array', maxItems: 3, items: { type: 'array', maxItems: 100, items: any } },
          id: any,
        },
      },
    })
  })

  it('is an empty closed object for an empty allowlist: nothing leaves', () => {
    expect(allowlistSchema([], null)).toEqual({
      type: 'object',
      properties: {},
      additionalProperties: false,
    })
  })
})

function entry(access: Partial<RouteAccess> | null, guarded = true): InventoryEntry {
  return {
    method: 'GET',
    url: '/x',
    guarded,
    access:
      access === null
        ? null
        : {
            public: null,
            allOf: [],
            anyOf: [],
            callers: null,
            claims: {},
            checks: [],
            acr: null,
            maxAuthAge: null,
            reportOnly: false,
            ...access,
          },
    exposure: { kind: 'none', mode: null, reason: null, groups: [], classes: [], maxItems: null },
    limits: { rateLimit: null, budget: null, enumeration: null },
  } as unknown as InventoryEntry
}

const oauth = { scheme: 'oauth2', scopes: true, narrowResponses: false }

describe('guardedOperation', () => {
  it('writes nothing for a route without a valid guard', () => {
    expect(guardedOperation(entry(null, false), oauth)).toBeNull()
  })

  it('multiplies any-of groups into alternatives, and falls back to the all-of scopes past 32', () => {
    const two = guardedOperation(
      entry({
        allOf: ['a'],
        anyOf: [
          ['b', 'c'],
          ['d', 'e'],
        ],
      }),
      oauth,
    )
    expect(two?.security).toEqual([
      { oauth2: ['a', 'b', 'd'] },
      { oauth2: ['a', 'b', 'e'] },
      { oauth2: ['a', 'c', 'd'] },
      { oauth2: ['a', 'c', 'e'] },
    ])
    const groups = Array.from({ length: 6 }, (_, i) => [`x${i}`, `y${i}`])
    const many = guardedOperation(entry({ allOf: ['a'], anyOf: groups }), oauth)
    expect(many?.security).toEqual([{ oauth2: ['a'] }])
  })

  it('documents no 429 without a limit, and a 429 for a budget alone', () => {
    const plain = guardedOperation(entry({ allOf: ['a'] }), oauth)
    expect(Object.keys(plain!.responses)).toEqual(['401', '403'])
    const budgeted = {
      ...entry({ allOf: ['a'] }),
      limits: { rateLimit: null, budget: { max: 1 }, enumeration: null },
    }
    expect(Object.keys(guardedOperation(budgeted, oauth)!.responses)).toContain('429')
  })
})

describe('documentSettings', () => {
  it('picks the only OAuth2 scheme, else bearerAuth; two OAuth2 schemes need a name', () => {
    expect(documentSettings({ o: { type: 'oauth2' } }, {}).scheme).toBe('o')
    expect(documentSettings({ k: { type: 'apiKey' } }, {})).toEqual({
      scheme: 'bearerAuth',
      scopes: false,
      narrowResponses: false,
    })
    expect(
      documentSettings({ a: { type: 'oauth2' }, b: { type: 'openIdConnect' } }, {}).scheme,
    ).toBe('bearerAuth')
    expect(() => documentSettings({}, { securityScheme: 'nope' })).toThrow(
      /openapi.securityScheme/u,
    )
  })

  it('leaves operations it cannot map untouched', () => {
    const document = { paths: { '/a': { get: { responses: { 200: { description: 'ok' } } } } } }
    expect(applyGuards(document, () => null, {})).toBe(0)
    expect(document).toEqual({
      paths: { '/a': { get: { responses: { 200: { description: 'ok' } } } } },
    })
  })
})
