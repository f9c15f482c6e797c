import { describe, expect, it } from 'vitest'
import {
  AuthenticationError,
  AuthorizationError,
  DependencyError,
  formatChallenge,
  PortcullisConfigError,
  RateLimitError,
  renderProblem,
} from '../index.js'

const HEADER_SAFE = /^[\x20-\x7e]*$/

describe('renderProblem', () => {
  it('renders a 401 without credentials: challenge without error code (RFC 6750 §3.1)', () => {
    const { status, headers, body } = renderProblem(new AuthenticationError('PCL_TOKEN_MISSING'), {
      realm: 'videos',
    })
    expect(status).toBe(401)
    expect(headers['content-type']).toBe('application/problem+json')
    expect(headers['www-authenticate']).toBe('Bearer realm="videos"')
    expect(body).toEqual({
      type: expect.stringMatching(/errors\.md#pcl_token_missing$/),
      title: 'Authentication required',
      status: 401,
      code: 'PCL_TOKEN_MISSING',
    })
  })

  it('renders invalid_token with a description', () => {
    const { headers, body } = renderProblem(new AuthenticationError('PCL_TOKEN_EXPIRED'))
    expect(headers['www-authenticate']).toBe(
      'Bearer error="invalid_token", error_description="Access token expired"',
    )
    expect(body.status).toBe(401)
  })

  it('renders insufficient_scope with the scopes the route needs', () => {
    const err = new AuthorizationError('PCL_INSUFFICIENT_SCOPE', {
      scope: ['videos:read', 'videos:write'],
    })
    const { status, headers } = renderProblem(err, { realm: 'api' })
    expect(status).toBe(403)
    expect(headers['www-authenticate']).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="Insufficient scope", scope="videos:read videos:write"',
    )
  })

  it('sends no challenge for 403s that are not about scope, nor for 429/503', () => {
    expect(
      renderProblem(new AuthorizationError('PCL_CALLER_NOT_ALLOWED')).headers['www-authenticate'],
    ).toBeUndefined()
    expect(
      renderProblem(new RateLimitError('PCL_RATE_LIMITED')).headers['www-authenticate'],
    ).toBeUndefined()
    expect(renderProblem(new DependencyError('PCL_KEYS_UNAVAILABLE')).status).toBe(503)
  })

  it('renders invalid_request as 400', () => {
    const r = renderProblem(new AuthenticationError('PCL_INVALID_REQUEST'))
    expect(r.status).toBe(400)
    expect(r.headers['www-authenticate']).toMatch(/^Bearer error="invalid_request"/)
  })

  it('never renders foreign errors: bare 500 without message or stack', () => {
    const err = new Error('connect ECONNREFUSED 10.0.0.5:6379 password=hunter2')
    const r = renderProblem(err)
    expect(r.status).toBe(500)
    expect(r.body).toEqual({
      type: expect.any(String),
      title: 'Internal server error',
      status: 500,
      code: 'PCL_INTERNAL',
    })
    expect(JSON.stringify(r)).not.toContain('hunter2')
    expect(JSON.stringify(r)).not.toContain('ECONNREFUSED')
    expect(renderProblem(undefined).status).toBe(500)
    expect(renderProblem({ code: 'PCL_TOKEN_INVALID', status: 401 }).status).toBe(500)
  })

  it('never sends startup errors to a client', () => {
    const r = renderProblem(new PortcullisConfigError('PCL_INVALID_GUARD', 'GET /admin: secret'))
    expect(r.status).toBe(500)
    expect(r.body.code).toBe('PCL_INTERNAL')
    expect(JSON.stringify(r)).not.toContain('/admin')
  })

  it('keeps the developer message out of the body; only `detail` is rendered', () => {
    const err = new AuthorizationError('PCL_CLAIM_MISMATCH', {
      message: 'tenant_id acme != globex',
      detail: 'This token may not access this object.',
    })
    const r = renderProblem(err)
    expect(r.body.detail).toBe('This token may not access this object.')
    expect(JSON.stringify(r)).not.toContain('acme')
  })

  it('passes safe extra headers (Retry-After) and drops unsafe ones', () => {
    const err = new RateLimitError('PCL_RATE_LIMITED', {
      headers: {
        'Retry-After': '30',
        'X-Evil': 'a\r\nSet-Cookie: x=1',
        'Bad Name': 'x',
        'Content-Type': 'text/html',
        'WWW-Authenticate': 'Basic',
      },
    })
    const { headers } = renderProblem(err)
    expect(headers['retry-after']).toBe('30')
    expect(headers['x-evil']).toBeUndefined()
    expect(headers['bad name']).toBeUndefined()
    expect(headers['content-type']).toBe('application/problem+json')
    expect(headers['www-authenticate']).toBeUndefined()
  })
})

describe('DPoP challenges (RFC 9449 §7.1, §9)', () => {
  const algs = ['ES256', 'EdDSA']

  it('renders errors about the proof under the DPoP scheme, with algs', () => {
    const err = new AuthenticationError('PCL_DPOP_PROOF_INVALID', { dpop: { algs, only: true } })
    const { status, headers, body } = renderProblem(err, { realm: 'api' })
    expect(status).toBe(401)
    expect(body.code).toBe('PCL_DPOP_PROOF_INVALID')
    expect(headers['www-authenticate']).toBe(
      'DPoP realm="api", error="invalid_dpop_proof", error_description="Invalid DPoP proof", algs="ES256 EdDSA"',
    )
    // Without a challenge attached, still DPoP (the error is about a proof).
    expect(
      renderProblem(new AuthenticationError('PCL_DPOP_PROOF_REPLAYED')).headers['www-authenticate'],
    ).toBe('DPoP error="invalid_dpop_proof", error_description="DPoP proof already used"')
  })

  it('renders use_dpop_nonce with the DPoP-Nonce header', () => {
    const err = new AuthenticationError('PCL_DPOP_NONCE_REQUIRED', {
      headers: { 'DPoP-Nonce': 'n-123.abc' },
      dpop: { algs, only: true },
    })
    const { headers } = renderProblem(err)
    expect(headers['www-authenticate']).toMatch(/^DPoP error="use_dpop_nonce", /)
    expect(headers['dpop-nonce']).toBe('n-123.abc')
  })

  it('answers under DPoP alone when only DPoP is accepted, else offers it beside Bearer', () => {
    const only = renderProblem(
      new AuthenticationError('PCL_TOKEN_EXPIRED', { dpop: { algs, only: true } }),
    )
    expect(only.headers['www-authenticate']).toBe(
      'DPoP error="invalid_token", error_description="Access token expired", algs="ES256 EdDSA"',
    )
    const offered = renderProblem(
      new AuthenticationError('PCL_TOKEN_BINDING_MISMATCH', { dpop: { algs, only: false } }),
      { realm: 'api' },
    )
    expect(offered.headers['www-authenticate']).toBe(
      'Bearer realm="api", error="invalid_token", error_description="Access token not bound to this sender", DPoP realm="api", algs="ES256 EdDSA"',
    )
  })

  it('uses the DPoP challenge of the options for errors that carry none (a missing token)', () => {
    const missing = renderProblem(new AuthenticationError('PCL_TOKEN_MISSING'), {
      realm: 'api',
      dpop: { algs, only: true },
    })
    expect(missing.headers['www-authenticate']).toBe('DPoP realm="api", algs="ES256 EdDSA"')
    const scope = renderProblem(
      new AuthorizationError('PCL_INSUFFICIENT_SCOPE', { scope: ['videos:read'] }),
      { dpop: { algs, only: true } },
    )
    expect(scope.headers['www-authenticate']).toBe(
      'DPoP error="insufficient_scope", error_description="Insufficient scope", scope="videos:read", algs="ES256 EdDSA"',
    )
    // 403s, 429s and 503s get no DPoP offer.
    expect(
      renderProblem(new AuthorizationError('PCL_CALLER_NOT_ALLOWED'), {
        dpop: { algs, only: false },
      }).headers['www-authenticate'],
    ).toBeUndefined()
    expect(
      renderProblem(new DependencyError('PCL_DPOP_UNAVAILABLE'), {
        dpop: { algs, only: true },
      }).headers['www-authenticate'],
    ).toBeUndefined()
  })

  it('keeps algs to tokens: no quote, space or control character gets through', () => {
    const value = formatChallenge({ scheme: 'DPoP', algs: ['ES256', 'x" , error="y', 'a\r\nb'] })
    expect(value).toMatch(HEADER_SAFE)
    expect(value.match(/"/g)?.length).toBe(2)
  })
})

describe('formatChallenge resists header injection', () => {
  const nasty = [
    'x"\r\nSet-Cookie: admin=1',
    'a\nb',
    'a\u0000b',
    'quote " and backslash \\',
    'ünïcödé\u2028line',
    '", error="invalid_token',
  ]

  it.each(nasty)('realm %j stays one quoted-string on one line', (realm) => {
    const value = formatChallenge({ realm })
    expect(value).toMatch(HEADER_SAFE)
    expect(value).not.toMatch(/[\r\n]/)
    // Exactly one parameter: the realm. An injected `", error="..."` must stay inside it.
    const match = /^Bearer realm="((?:[^"\\]|\\.)*)"$/.exec(value)
    expect(match).not.toBeNull()
  })

  it.each(nasty)('scope %j cannot add parameters', (scope) => {
    const value = formatChallenge({ error: 'insufficient_scope', scope: [scope, 'ok:scope'] })
    expect(value).toMatch(HEADER_SAFE)
    expect(value.match(/"/g)?.length).toBe(4)
    expect(value).toContain('ok:scope')
  })

  it('drops `"` and `\\` from error_description instead of escaping them (RFC 6750 §3)', () => {
    const value = formatChallenge({ error: 'invalid_token', errorDescription: 'bad "x" \\ y\r\n' })
    expect(value).toBe('Bearer error="invalid_token", error_description="bad x  y"')
  })

  it('falls back to Bearer for a scheme that is not a token', () => {
    expect(formatChallenge({ scheme: 'DPoP' })).toBe('DPoP')
    expect(formatChallenge({ scheme: 'Bearer\r\nX: y' })).toBe('Bearer')
  })

  it('bounds parameter length', () => {
    const value = formatChallenge({ realm: 'r'.repeat(10_000) })
    expect(value.length).toBeLessThan(600)
  })
})

describe('resource_metadata (RFC 9728 §5.1)', () => {
  const url = 'https://api.example/.well-known/oauth-protected-resource'

  it('is added to every challenge: Bearer, insufficient_scope, and the DPoP offer', () => {
    const missing = renderProblem(new AuthenticationError('PCL_TOKEN_MISSING'), {
      realm: 'api',
      resourceMetadata: url,
    })
    expect(missing.headers['www-authenticate']).toBe(
      `Bearer realm="api", resource_metadata="${url}"`,
    )
    const scope = renderProblem(
      new AuthorizationError('PCL_INSUFFICIENT_SCOPE', { scope: ['videos:read'] }),
      { resourceMetadata: url },
    )
    expect(scope.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", error_description="Insufficient scope", scope="videos:read", resource_metadata="${url}"`,
    )
    const offered = renderProblem(
      new AuthenticationError('PCL_TOKEN_EXPIRED', { dpop: { algs: ['ES256'], only: false } }),
      { resourceMetadata: url },
    )
    expect(offered.headers['www-authenticate']?.match(/resource_metadata=/g)).toHaveLength(2)
    // No challenge, no parameter: a 403 for a caller, a 429.
    expect(
      renderProblem(new AuthorizationError('PCL_CALLER_NOT_ALLOWED'), { resourceMetadata: url })
        .headers['www-authenticate'],
    ).toBeUndefined()
  })

  it('stays one quoted-string on one line, whatever the URL holds', () => {
    const value = formatChallenge({ resourceMetadata: 'https://x/"\r\n, error="invalid_token' })
    expect(value).toMatch(HEADER_SAFE)
    expect(/^Bearer resource_metadata="((?:[^"\\]|\\.)*)"$/.exec(value)).not.toBeNull()
  })
})
