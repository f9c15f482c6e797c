import { bearer, createTestIssuer } from '@portcullis/testing'
import {
  createSetPushHandler,
  createSetReceiver,
  setPushPlugin,
  type SetRevocations,
} from '@portcullis/tokens'
import { describe, expect, it } from 'vitest'
import { guardedExpress } from '../express/helpers.js'
import { guardedApp } from '../helpers.js'
import { createTestTransmitter, sessionRevoked } from './transmitter.js'

// The push endpoint as the guide mounts it, with the defaults in force (every route declares its
// response allowlist; request bodies of the route declared): the route boots, the 400 body keeps
// its RFC 8935 fields, and the guard's own refusals stay problem+json.

const GUARD = {
  callers: ['idp'],
  response: { allow: ['err', 'description'], byStatus: { '4xx': ['err', 'description'] } },
  body: { passthrough: 'a Security Event Token, verified by createSetReceiver' },
}

function recorder(): SetRevocations & { calls: string[] } {
  const calls: string[] = []
  const record = (name: string) => (_issuer: string, id: string) => {
    calls.push(`${name}:${id}`)
    return Promise.resolve()
  }
  return {
    calls,
    revokeSubject: record('subject'),
    revokeSession: record('session'),
    revokeClient: record('client'),
  }
}

describe('the SET push endpoint with the defaults in force', async () => {
  const issuer = await createTestIssuer()
  const transmitter = await createTestTransmitter()
  const receiverFor = (revocation: SetRevocations) =>
    createSetReceiver({
      issuer: transmitter.issuer,
      audience: transmitter.audience,
      algorithms: ['ES256'],
      jwks: transmitter.jwks,
      revocation,
    })
  const caller = await issuer.token({ sub: 'idp', client_id: 'idp' })

  it('Fastify', async () => {
    const revocation = recorder()
    const { app } = await guardedApp(
      async (instance) => {
        await instance.register(setPushPlugin, { receiver: receiverFor(revocation), guard: GUARD })
      },
      { issuer, portcullis: { response: { requireResponse: true } } },
    )
    const push = (payload: string, headers: Record<string, string> = bearer(caller)) =>
      app.inject({
        method: 'POST',
        url: '/ssf/events',
        headers: { 'content-type': 'application/secevent+jwt', ...headers },
        payload,
      })
    const good = await push(await transmitter.set(sessionRevoked(issuer.issuer, 'a', 's-1')))
    expect(good.statusCode).toBe(202)
    expect(revocation.calls).toEqual(['session:s-1'])
    const forged = await push(
      await transmitter.set(sessionRevoked(issuer.issuer, 'a', 's-2'), {
        key: transmitter.otherKey,
      }),
    )
    expect(forged.statusCode).toBe(400)
    expect(forged.json()).toEqual({
      err: 'authentication_failed',
      description: 'SET signature verification failed',
    })
    const anonymous = await push('x', {})
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.headers['content-type']).toContain('application/problem+json')
    expect(revocation.calls).toEqual(['session:s-1'])
    await app.close()
  })

  it('Express', async () => {
    const revocation = recorder()
    const t = await guardedExpress(
      (app, guard) => {
        app.post('/ssf/events', guard(GUARD), createSetPushHandler(receiverFor(revocation)))
      },
      { issuer, portcullis: { response: { requireResponse: true } } },
    )
    try {
      const push = async (body: string, headers: Record<string, string> = bearer(caller)) =>
        t.request('/ssf/events', {
          method: 'POST',
          headers: { 'content-type': 'application/secevent+jwt', ...headers },
          body,
        })
      const good = await push(await transmitter.set(sessionRevoked(issuer.issuer, 'a', 's-1')))
      expect(good.status).toBe(202)
      expect(revocation.calls).toEqual(['session:s-1'])
      const wrongAudience = await push(
        await transmitter.set(sessionRevoked(issuer.issuer, 'a', 's-2'), {
          claims: { aud: 'https://elsewhere.test' },
        }),
      )
      expect(wrongAudience.status).toBe(400)
      expect(wrongAudience.json()).toEqual({
        err: 'invalid_audience',
        description: 'SET is not addressed to this receiver',
      })
      const stranger = await issuer.token({ sub: 'svc', client_id: 'billing' })
      expect((await push('x', bearer(stranger))).status).toBe(403)
      expect(revocation.calls).toEqual(['session:s-1'])
    } finally {
      await t.close()
    }
  })
})
