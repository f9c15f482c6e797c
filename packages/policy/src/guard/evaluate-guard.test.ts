import type { AuthenticationError, GuardRequest, PortcullisError } from '@portcullis/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { compileGuard } from './compile-guard.js'
import { principalFromClaims } from './explain-guard.js'

const request: GuardRequest = { method: 'GET', url: '/', params: {}, query: {}, headers: {} }
const NOW = 1_800_000_000 // seconds, a whole second: the boundaries below are exact

async function denial(guard: unknown, claims: Record<string, unknown>) {
  const compiled = compileGuard(guard, { route: 'GET /' })
  return (await compiled.evaluate(principalFromClaims({ sub: 'u', ...claims })!, request)) as
    (PortcullisError & Partial<AuthenticationError>) | null
}

describe('step-up (RFC 9470)', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    vi.setSystemTime(NOW * 1000)
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('maxAuthAge: an authentication exactly maxAuthAge seconds old passes, one second older fails', async () => {
    expect(await denial({ maxAuthAge: 60 }, { auth_time: NOW - 60 })).toBeNull()
    const old = await denial({ maxAuthAge: 60 }, { auth_time: NOW - 61 })
    expect(old?.code).toBe('PCL_INSUFFICIENT_AUTHENTICATION')
    expect(old?.status).toBe(401)
    expect(old?.detail).toBe('More recent authentication is required')
  })

  it('an auth_time in the future passes within the 300 s skew and fails beyond it', async () => {
    expect(await denial({ maxAuthAge: 60 }, { auth_time: NOW + 300 })).toBeNull()
    expect((await denial({ maxAuthAge: 60 }, { auth_time: NOW + 301 }))?.code).toBe(
      'PCL_INSUFFICIENT_AUTHENTICATION',
    )
  })

  it('an auth_time that is not a number of seconds fails', async () => {
    for (const authTime of [String(NOW), null, [NOW], undefined]) {
      expect((await denial({ maxAuthAge: 60 }, { auth_time: authTime }))?.code).toBe(
        'PCL_INSUFFICIENT_AUTHENTICATION',
      )
    }
  })

  it('acr: a value outside the accepted ones, or none, fails with its own detail', async () => {
    expect(await denial({ acr: ['mfa', 'hwk'] }, { acr: 'hwk' })).toBeNull()
    for (const acr of ['pwd', 'MFA', undefined, ['mfa']]) {
      const refused = await denial({ acr: ['mfa', 'hwk'] }, { acr })
      expect(refused?.code).toBe('PCL_INSUFFICIENT_AUTHENTICATION')
      expect(refused?.detail).toBe('A different authentication level is required')
    }
  })

  it('a check still runs after a passing step-up', async () => {
    const guard = { acr: ['mfa'], check: () => false }
    expect((await denial(guard, { acr: 'mfa' }))?.code).toBe('PCL_CHECK_DENIED')
    expect(await denial({ ...guard, check: () => true }, { acr: 'mfa' })).toBeNull()
  })
})

describe('check', () => {
  it('a check that throws is a denial keeping the exception as its cause, for the server log', async () => {
    const fault = new Error('directory down')
    const refused = await denial(
      {
        check: () => {
          throw fault
        },
      },
      {},
    )
    expect(refused?.code).toBe('PCL_CHECK_DENIED')
    expect(refused?.cause).toBe(fault)
    // A check that answers anything but true has no cause to log.
    const no = await denial({ check: () => 'yes' }, {})
    expect(no?.code).toBe('PCL_CHECK_DENIED')
    expect(no?.cause).toBeUndefined()
  })
})
