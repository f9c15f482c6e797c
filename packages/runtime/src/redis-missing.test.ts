import { createTestIssuer } from '@portcullis/testing'
import { expect, it, vi } from 'vitest'
import { createGuardRuntime } from './runtime.js'

// Without the ioredis package, a `rateLimit.redis` URL cannot be connected: said once, in the log.
vi.mock('ioredis', () => {
  throw new Error('Cannot find package ioredis')
})

it('logs a Redis client a URL could not make, and still closes', async () => {
  const issuer = await createTestIssuer()
  const errors: [object, string][] = []
  const runtime = createGuardRuntime({
    tokens: {
      issuers: [{ issuer: issuer.issuer, audience: 'x', algorithms: ['ES256'], jwks: issuer.jwks }],
    },
    rateLimit: { max: 10, timeWindow: '1 minute', redis: 'redis://127.0.0.1:1' },
    logger: {
      info() {},
      warn() {},
      error: (fields: object, message: string) => void errors.push([fields, message]),
    },
  })
  await expect(runtime.ready()).rejects.toMatchObject({
    code: 'PCL_INVALID_OPTIONS',
    field: 'rateLimit.redis',
  })
  await runtime.close()
  expect(errors).toEqual([
    [
      { err: expect.objectContaining({ code: 'PCL_INVALID_OPTIONS' }) },
      'portcullis: the rate-limit Redis client failed',
    ],
  ])
})
