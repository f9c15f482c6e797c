import { describe, expect, it } from 'vitest'
import { queryTokenValues } from './query-token.js'

describe('queryTokenValues (RFC 6750 §2.3)', () => {
  it('finds access_token however its name is percent-encoded', () => {
    for (const name of [
      'access_token',
      'access%5Ftoken',
      'access%5ftoken',
      '%61ccess_token',
      '%61%63%63%65%73%73%5F%74%6F%6B%65%6E',
    ]) {
      expect(queryTokenValues(`/v1/videos/1?x=1&${name}=abc`), name).toEqual(['abc'])
    }
  })

  it('returns every value, under any spelling of the name', () => {
    expect(queryTokenValues('/x?access_token=a&access%5Ftoken=b')).toEqual(['a', 'b'])
  })

  it('is null without the parameter', () => {
    for (const url of [
      '/v1/videos/1',
      '/v1/videos/access_token',
      '/x?q=access_token',
      '/x?q=%41',
      '/x?access_tokens=a',
      '/x?ACCESS_TOKEN=a',
      // Decoded once, as every query parser does: this name is `access%5Ftoken`.
      '/x?access%255Ftoken=a',
      '/x?access+token=a',
    ]) {
      expect(queryTokenValues(url), url).toBeNull()
    }
  })
})
