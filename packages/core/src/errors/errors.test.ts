import { describe, expect, it } from 'vitest'
import {
  AuthenticationError,
  AuthorizationError,
  DependencyError,
  errorCodes,
  isErrorCode,
  isPortcullisConfigError,
  isPortcullisError,
  PortcullisConfigError,
  PortcullisError,
  RateLimitError,
  RequestError,
  ResponseError,
  type PortcullisErrorCode,
} from '../index.js'

describe('error table', () => {
  it('has only PCL_* codes with a status matching their kind', () => {
    const statusByKind: Record<string, number[]> = {
      config: [500],
      authentication: [400, 401],
      authorization: [403],
      request: [400, 413, 414, 415],
      'rate-limit': [429],
      dependency: [503],
      response: [500],
      internal: [500],
    }
    for (const [code, spec] of Object.entries(errorCodes)) {
      expect(code).toMatch(/^PCL_[A-Z_]+$/)
      expect(statusByKind[spec.kind]).toContain(spec.status)
      expect(spec.title.length).toBeGreaterThan(0)
    }
  })

  it('recognises own codes only', () => {
    expect(isErrorCode('PCL_TOKEN_INVALID')).toBe(true)
    expect(isErrorCode('PCL_NOPE')).toBe(false)
    expect(isErrorCode('toString')).toBe(false)
    expect(isErrorCode('__proto__')).toBe(false)
    expect(isErrorCode(42)).toBe(false)
  })
})

describe('PortcullisError', () => {
  it('carries code, status and kind from the table', () => {
    const err = new AuthenticationError('PCL_TOKEN_EXPIRED')
    expect(err.code).toBe('PCL_TOKEN_EXPIRED')
    expect(err.status).toBe(401)
    expect(err.kind).toBe('authentication')
    expect(err.name).toBe('AuthenticationError')
    expect(err.message).toBe('Access token expired')
    expect(err).toBeInstanceOf(PortcullisError)
    expect(err).toBeInstanceOf(Error)
  })

  it.each([
    [() => new AuthorizationError('PCL_INSUFFICIENT_SCOPE'), 403, 'AuthorizationError'],
    [() => new RateLimitError('PCL_RATE_LIMITED'), 429, 'RateLimitError'],
    [() => new RequestError('PCL_UNKNOWN_FIELD'), 400, 'RequestError'],
    [() => new RequestError('PCL_BODY_TOO_LARGE'), 413, 'RequestError'],
    [() => new DependencyError('PCL_KEYS_UNAVAILABLE'), 503, 'DependencyError'],
    [() => new ResponseError('PCL_RESPONSE_REJECTED'), 500, 'ResponseError'],
  ] as const)('subclass %#: status and literal name', (make, status, name) => {
    const err = make()
    expect(err.status).toBe(status)
    expect(err.name).toBe(name)
  })

  it('refuses a code of another kind, and unknown codes', () => {
    expect(() => new AuthenticationError('PCL_RATE_LIMITED' as never)).toThrow(TypeError)
    expect(() => new AuthorizationError('PCL_TOKEN_MISSING' as never)).toThrow(TypeError)
    expect(() => new PortcullisError('PCL_BOGUS' as PortcullisErrorCode)).toThrow(TypeError)
  })

  it('keeps the cause without exposing it in the message', () => {
    const cause = new Error('secret key material')
    const err = new AuthenticationError('PCL_TOKEN_INVALID', { cause })
    expect(err.cause).toBe(cause)
    expect(err.message).not.toContain('secret')
  })

  it('is recognised across copies through the Symbol.for brand, not instanceof', () => {
    const foreign = Object.assign(new Error('x'), { code: 'PCL_TOKEN_INVALID' })
    Object.defineProperty(foreign, Symbol.for('portcullis.error'), { value: true })
    expect(isPortcullisError(foreign)).toBe(true)
    expect(isPortcullisError(foreign, 'PCL_TOKEN_INVALID')).toBe(true)
    expect(isPortcullisError(foreign, 'PCL_TOKEN_EXPIRED')).toBe(false)
    // Look-alikes without the brand are not ours.
    expect(isPortcullisError({ code: 'PCL_TOKEN_INVALID', status: 401 })).toBe(false)
    expect(isPortcullisError(null)).toBe(false)
    expect(isPortcullisError('PCL_TOKEN_INVALID')).toBe(false)
  })
})

describe('PortcullisConfigError', () => {
  it('names the route and the field', () => {
    const err = new PortcullisConfigError('PCL_INVALID_GUARD', 'GET /x: guard.public is empty', {
      route: 'GET /x',
      field: 'guard.public',
    })
    expect(err.route).toBe('GET /x')
    expect(err.field).toBe('guard.public')
    expect(err.routes).toEqual(['GET /x'])
    expect(err.message).toContain('GET /x')
    expect(err.name).toBe('PortcullisConfigError')
    expect(isPortcullisConfigError(err)).toBe(true)
    expect(isPortcullisConfigError(new AuthenticationError('PCL_TOKEN_INVALID'))).toBe(false)
  })

  it('only carries config codes', () => {
    expect(() => new PortcullisConfigError('PCL_TOKEN_INVALID' as never, 'x')).toThrow(TypeError)
  })
})
