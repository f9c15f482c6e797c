import { describe, expect, it } from 'vitest'
import { closestName } from './closest-name.js'

const GUARD = ['public', 'authenticated', 'scopes', 'callers', 'claims', 'check', 'response']

describe('closestName', () => {
  it.each([
    ['scopez', 'scopes'],
    ['scope', 'scopes'],
    ['pubilc', 'public'],
    ['Callers', 'callers'],
    ['authenticate', 'authenticated'],
    ['respones', 'response'],
    ['claim', 'claims'],
  ])('takes %s for %s', (typo, meant) => {
    expect(closestName(typo, GUARD)).toBe(meant)
  })

  it('suggests nothing for a name close to none', () => {
    expect(closestName('roles', GUARD)).toBeUndefined()
    expect(closestName('x', GUARD)).toBeUndefined()
    expect(closestName('', GUARD)).toBeUndefined()
  })

  it('bounds the distance by the length of the name', () => {
    expect(closestName('titel', ['title', 'id'])).toBe('title')
    expect(closestName('ab', ['id'])).toBeUndefined()
    expect(closestName('ib', ['id'])).toBe('id')
  })
})
