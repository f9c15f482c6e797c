import { describe, expect, it } from 'vitest'
import { queryTokenValues, redactQueryTokens } from './query-token.js'

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

describe('redactQueryTokens', () => {
  it('replaces the value of access_token under any spelling of its name, and nothing else', () => {
    expect(redactQueryTokens('/v1/videos/1?access_token=eyJ.a.b')).toBe(
      '/v1/videos/1?access_token=[REDACTED]',
    )
    expect(
      redactQueryTokens('/x?page=2&access%5Ftoken=s3cret&%61ccess_token=s3cret&q=a%20b#f'),
    ).toBe('/x?page=2&access%5Ftoken=[REDACTED]&%61ccess_token=[REDACTED]&q=a%20b#f')
    // Up to the next `&`: a value carrying `#` or `=` is redacted whole.
    expect(redactQueryTokens('/x?access_token=a=b#c&d=1')).toBe('/x?access_token=[REDACTED]&d=1')
  })

  it('returns URLs without the parameter unchanged, byte for byte', () => {
    for (const url of [
      '/',
      '/v1/videos/access_token',
      '/x?q=access_token',
      '/x?q=%41&r=%E2%82%AC',
      '/x?access_tokens=a',
      '/x?access%255Ftoken=a',
      '/x?access_token',
      '/x?a=1&&b=2',
    ]) {
      expect(redactQueryTokens(url), url).toBe(url)
    }
  })

  it('redacts exactly what queryTokenValues reads', () => {
    const names = ['access_token', 'access%5Ftoken', 'access%5ftoken', '%61ccess%5Ftoken', 'x']
    for (const name of names) {
      const url = `/p?${name}=SECRET&y=1`
      const found = queryTokenValues(url) !== null
      expect(redactQueryTokens(url).includes('SECRET'), name).toBe(!found)
    }
  })
})
