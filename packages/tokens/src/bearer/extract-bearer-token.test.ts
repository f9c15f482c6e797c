import { isPortcullisError } from '@portcullis/core'
import { describe, expect, it } from 'vitest'
import { extractAccessToken, extractBearerToken } from './extract-bearer-token.js'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return isPortcullisError(err) ? err.code : 'not a PortcullisError'
  }
  return undefined
}

describe('extractBearerToken (RFC 6750 §2.1)', () => {
  it('returns the token of a well-formed Bearer credential', () => {
    expect(extractBearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi')
    expect(extractBearerToken('Bearer a-b_c~d+e/f.g==')).toBe('a-b_c~d+e/f.g==')
  })

  it('matches the scheme case-insensitively', () => {
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      expect(extractBearerToken(`${scheme} abc`)).toBe('abc')
    }
  })

  it('returns null when there are no bearer credentials', () => {
    expect(extractBearerToken(undefined)).toBeNull()
    expect(extractBearerToken('')).toBeNull()
    expect(extractBearerToken([])).toBeNull()
    expect(extractBearerToken('Basic dXNlcjpwdw==')).toBeNull()
    expect(extractBearerToken('Basic dXNlcjpwdw==, Bearer abc')).toBeNull()
    expect(extractBearerToken('DPoP abc')).toBeNull()
    expect(extractBearerToken('Bearerabc')).toBeNull()
    expect(extractBearerToken('Token abc')).toBeNull()
  })

  it('accepts a single header given as a one-element array', () => {
    expect(extractBearerToken(['Bearer abc'])).toBe('abc')
  })

  it('refuses several Authorization headers as a malformed request', () => {
    expect(codeOf(() => extractBearerToken(['Bearer abc', 'Bearer def']))).toBe(
      'PCL_INVALID_REQUEST',
    )
    expect(codeOf(() => extractBearerToken(['Bearer abc', 'Basic x']))).toBe('PCL_INVALID_REQUEST')
  })

  it.each([
    'Bearer',
    'Bearer ',
    'Bearer  abc',
    'Bearer abc ',
    'Bearer abc def',
    'Bearer abc, Bearer def',
    'Bearer abc,def',
    'Bearer "abc"',
    'Bearer abc=def',
    'Bearer ab\tc',
    'Bearer é',
    'bearer \u0000',
  ])('refuses the malformed Bearer credential %j', (header) => {
    expect(codeOf(() => extractBearerToken(header))).toBe('PCL_TOKEN_INVALID')
  })

  it.each([
    'Bearer:abc',
    'Bearer=abc',
    'Bearer,abc',
    'Bearer\tabc',
    'Bearer\u00a0abc',
    'bearer:abc',
    'BEARER\t abc',
    'Bearer"abc"',
    'Bearer/abc',
  ])('refuses %j as a malformed request (RFC 6750 §3.1), never as no credentials', (header) => {
    expect(codeOf(() => extractBearerToken(header))).toBe('PCL_INVALID_REQUEST')
    expect(codeOf(() => extractAccessToken(header))).toBe('PCL_INVALID_REQUEST')
  })

  it('refuses a garbled DPoP scheme the same way, where DPoP is read', () => {
    for (const header of ['DPoP:abc', 'dpop=abc', 'DPoP\tabc']) {
      expect(
        codeOf(() => extractAccessToken(header)),
        header,
      ).toBe('PCL_INVALID_REQUEST')
      expect(extractBearerToken(header), header).toBeNull()
    }
  })

  it('still reads other schemes whose names start like ours as no credentials', () => {
    for (const header of ['Bearerabc', 'Bearer-token abc', 'Bearer.x abc', 'DPoPx abc']) {
      expect(extractAccessToken(header), header).toBeNull()
    }
  })

  it('never puts the token in an error message', () => {
    const secret = 'sekrit-token-value'
    try {
      extractBearerToken(`Bearer ${secret} extra`)
    } catch (err) {
      expect(String(err)).not.toContain(secret)
      expect(JSON.stringify(err)).not.toContain(secret)
    }
    expect.assertions(2)
  })
})
