import { setTimeout as sleep } from 'node:timers/promises'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import {
  createRedisRevocation,
  createSetPoller,
  createSetPushHandler,
  createSetReceiver,
  setPushPlugin,
  type RedisRevocation,
  type SetReceiver,
  type SetReceiverOptions,
} from '@portcullis/tokens'
import Fastify from 'fastify'
import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { guardedExpress } from '../express/helpers.js'
import { connectedRedis, registerPortcullis } from '../fastify/sender-constraints.js'
import { trustedTokens } from '../helpers.js'
import { RedisServer, runRedisTests } from '../rate-limit/redis-server.js'
import {
  CAEP,
  createTestTransmitter,
  receiverOf,
  RISC,
  sessionRevoked,
  type TestTransmitter,
} from './transmitter.js'

// Security Event Tokens pushed (RFC 8935) to one of two app instances sharing Redis, on Fastify
// and on Express, and polled (RFC 8936) from a transmitter on loopback: a CAEP or RISC event
// revokes on both instances; a forged, expired, replayed or wrongly addressed SET is refused with
// the RFC 8935 error and changes nothing.

const CALLER = 'idp-transmitter'
const LIST = '{portcullis:revoked:}issued-before'
// RFC 8935 §2.3 error bodies are the route's own 400s: the allowlist lets their two fields out.
const RESPONSE = {
  allow: ['err', 'description'],
  byStatus: { '4xx': ['err', 'description'] },
}

interface Answer {
  status: number
  body: string
}

interface Instance {
  revocation: RedisRevocation
  receiver: SetReceiver
  /** Pushes `body` as the transmitter (a token of client CALLER unless `token` says otherwise). */
  push(body: string, options?: { contentType?: string; token?: string | null }): Promise<Answer>
  /** GET of a guarded route with `token`: the status. */
  get(token: string): Promise<number>
  close(): Promise<void>
}

type Start = (
  issuer: TestIssuer,
  transmitter: TestTransmitter,
  redis: Redis,
  receiverOptions?: Partial<SetReceiverOptions>,
) => Promise<Instance>

function parts(
  issuer: TestIssuer,
  transmitter: TestTransmitter,
  redis: Redis,
  receiverOptions: Partial<SetReceiverOptions>,
) {
  const revocation = createRedisRevocation({
    redis,
    pollInterval: 100,
    timeout: 200,
    staleAfter: 1000,
  })
  const receiver = createSetReceiver({
    ...receiverOf(transmitter, issuer.issuer, revocation),
    replay: { redis },
    ...receiverOptions,
  })
  return { revocation, receiver }
}

const fastifyInstance: Start = async (issuer, transmitter, redis, receiverOptions = {}) => {
  const { revocation, receiver } = parts(issuer, transmitter, redis, receiverOptions)
  const app = Fastify({ logger: false })
  await registerPortcullis(app, issuer, { tokens: { isRevoked: revocation.isRevoked } })
  app.get('/v1/videos/:id', { config: { guard: { authenticated: true } } }, () => ({ ok: true }))
  await app.register(setPushPlugin, { receiver, guard: { callers: [CALLER], response: RESPONSE } })
  const caller = await issuer.token({ sub: 'idp', client_id: CALLER })
  return {
    revocation,
    receiver,
    async push(body, { contentType = 'application/secevent+jwt', token = caller } = {}) {
      const res = await app.inject({
        method: 'POST',
        url: '/ssf/events',
        headers: { 'content-type': contentType, ...(token === null ? {} : bearer(token)) },
        payload: body,
      })
      return { status: res.statusCode, body: res.body }
    },
    async get(token) {
      return (await app.inject({ url: '/v1/videos/1', headers: bearer(token) })).statusCode
    },
    async close() {
      revocation.close()
      await app.close()
    },
  }
}

const expressInstance: Start = async (issuer, transmitter, redis, receiverOptions = {}) => {
  const { revocation, receiver } = parts(issuer, transmitter, redis, receiverOptions)
  const app = await guardedExpress(
    (express, guard) => {
      express.get('/v1/videos/:id', guard({ authenticated: true }), (_req, res) => {
        res.json({ ok: true })
      })
      express.post(
        '/ssf/events',
        guard({ callers: [CALLER], response: RESPONSE }),
        createSetPushHandler(receiver),
      )
    },
    {
      issuer,
      portcullis: { tokens: { ...trustedTokens(issuer), isRevoked: revocation.isRevoked } },
    },
  )
  const caller = await issuer.token({ sub: 'idp', client_id: CALLER })
  return {
    revocation,
    receiver,
    async push(body, { contentType = 'application/secevent+jwt', token = caller } = {}) {
      const res = await app.request('/ssf/events', {
        method: 'POST',
        headers: { 'content-type': contentType, ...(token === null ? {} : bearer(token)) },
        body,
      })
      return { status: res.status, body: res.body }
    },
    async get(token) {
      return (await app.request('/v1/videos/1', { headers: bearer(token) })).status
    },
    async close() {
      revocation.close()
      await app.close()
    },
  }
}

const seconds = (): number => Math.floor(Date.now() / 1000)

describe.runIf(runRedisTests).each([
  ['Fastify', fastifyInstance],
  ['Express', expressInstance],
] as const)('SET receiver on %s', (_name, start) => {
  let server: RedisServer
  let issuer: TestIssuer
  let transmitter: TestTransmitter
  const clients: Redis[] = []
  const instances: Instance[] = []

  beforeAll(async () => {
    server = await RedisServer.start()
    issuer = await createTestIssuer({ issuer: 'https://auth.ssf.test', audience: 'videos-api' })
    transmitter = await createTestTransmitter()
  })
  afterAll(async () => {
    await transmitter?.close()
    await server?.stop()
  })
  afterEach(async () => {
    for (const instance of instances.splice(0)) await instance.close()
    clients.splice(0).forEach((client) => client.disconnect())
    await server.send('FLUSHALL')
  })

  async function instance(options: Partial<SetReceiverOptions> = {}): Promise<Instance> {
    const created = await start(
      issuer,
      transmitter,
      await connectedRedis(server.url, clients),
      options,
    )
    instances.push(created)
    return created
  }

  async function untilStatus(i: Instance, token: string, status: number): Promise<number> {
    const began = performance.now()
    while ((await i.get(token)) !== status) {
      const elapsed = performance.now() - began
      if (elapsed > 2000) throw new Error(`still not ${status} after ${Math.round(elapsed)} ms`)
      await sleep(10)
    }
    return performance.now() - began
  }

  const entries = async (): Promise<string[]> => {
    const inspector = await connectedRedis(server.url, clients)
    return inspector.zrange(LIST, 0, -1)
  }

  it('a CAEP session-revoked pushed to one instance revokes the session on both, cached tokens included', async () => {
    const a = await instance()
    const b = await instance()
    const iat = seconds() - 30
    const session = await issuer.token({ sub: 'alice', sid: 'sess-1', iat })
    const otherSession = await issuer.token({ sub: 'alice', sid: 'sess-2', iat })
    expect(await a.get(session)).toBe(200)
    expect(await b.get(session)).toBe(200)
    const set = await transmitter.set(sessionRevoked(issuer.issuer, 'alice', 'sess-1'))
    const res = await a.push(set)
    expect(res.status).toBe(202)
    expect(res.body).toBe('')
    expect(await a.get(session)).toBe(401)
    expect(await untilStatus(b, session, 401)).toBeLessThan(2000)
    expect(await b.get(otherSession)).toBe(200)
    // A token of that session issued after the event passes.
    const later = await issuer.token({ sub: 'alice', sid: 'sess-1', iat: seconds() + 1 })
    expect(await b.get(later)).toBe(200)
  })

  it.each([
    [
      'CAEP credential-change (iss_sub)',
      (iss: string) => ({
        [`${CAEP}credential-change`]: {
          subject: { format: 'iss_sub', iss, sub: 'bob' },
          credential_type: 'password',
          change_type: 'update',
        },
      }),
      {},
    ],
    [
      'RISC account-disabled (sub_id, opaque)',
      () => ({ [`${RISC}account-disabled`]: { reason: 'hijacking' } }),
      { sub_id: { format: 'opaque', id: 'bob' } },
    ],
    [
      'RISC sessions-revoked (complex user)',
      (iss: string) => ({
        [`${RISC}sessions-revoked`]: { subject: { user: { format: 'iss_sub', iss, sub: 'bob' } } },
      }),
      {},
    ],
  ])('%s revokes every token of the subject on both instances', async (_event, events, claims) => {
    const a = await instance()
    const b = await instance()
    const token = await issuer.token({ sub: 'bob', iat: seconds() - 30 })
    const carol = await issuer.token({ sub: 'carol', iat: seconds() - 30 })
    expect(await b.get(token)).toBe(200)
    expect((await a.push(await transmitter.set(events(issuer.issuer), { claims }))).status).toBe(
      202,
    )
    expect(await untilStatus(b, token, 401)).toBeLessThan(2000)
    expect(await a.get(token)).toBe(401)
    expect(await b.get(carol)).toBe(200)
    expect((await entries()).map((m) => (JSON.parse(m) as unknown[]).slice(0, 3))).toEqual([
      ['sub', issuer.issuer, 'bob'],
    ])
  })

  it('an event of another type is accepted and ignored', async () => {
    const a = await instance()
    const set = await transmitter.set({ [`${CAEP}token-claims-change`]: { claims: {} } })
    expect((await a.push(set)).status).toBe(202)
    expect(await entries()).toEqual([])
  })

  describe('refusals: 400 with the RFC 8935 error, nothing changed', () => {
    const event = () => sessionRevoked(issuer.issuer, 'alice', 'sess-1')
    const cases: [string, () => Promise<{ body: string; contentType?: string }>, string][] = [
      [
        'a forged signature (another key, the same kid)',
        async () => ({ body: await transmitter.set(event(), { key: transmitter.otherKey }) }),
        'authentication_failed',
      ],
      [
        'an unknown kid',
        async () => ({
          body: await transmitter.set(event(), { key: transmitter.otherKey, header: { kid: 'x' } }),
        }),
        'invalid_key',
      ],
      [
        'alg none',
        async () => {
          const [, payload] = (await transmitter.set(event())).split('.')
          const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'secevent+jwt' })).toString(
            'base64url',
          )
          return { body: `${header}.${payload}.AAAA` }
        },
        'invalid_key',
      ],
      [
        'another issuer',
        async () => ({
          body: await transmitter.set(event(), { claims: { iss: 'https://evil.test' } }),
        }),
        'invalid_issuer',
      ],
      [
        'another audience',
        async () => ({
          body: await transmitter.set(event(), { claims: { aud: 'https://other.test' } }),
        }),
        'invalid_audience',
      ],
      [
        'expired (exp)',
        async () => ({ body: await transmitter.set(event(), { claims: { exp: seconds() - 60 } }) }),
        'invalid_request',
      ],
      [
        'older than maxAge (iat)',
        async () => ({
          body: await transmitter.set(event(), { claims: { iat: seconds() - 2 * 86_400 } }),
        }),
        'invalid_request',
      ],
      [
        'issued in the future',
        async () => ({
          body: await transmitter.set(event(), { claims: { iat: seconds() + 600 } }),
        }),
        'invalid_request',
      ],
      [
        'typ at+jwt (an access token the transmitter signed)',
        async () => ({ body: await transmitter.set(event(), { header: { typ: 'at+jwt' } }) }),
        'invalid_request',
      ],
      [
        'no jti',
        async () => ({ body: await transmitter.set(event(), { claims: { jti: undefined } }) }),
        'invalid_request',
      ],
      [
        'no events',
        async () => ({ body: await transmitter.set(event(), { claims: { events: undefined } }) }),
        'invalid_request',
      ],
      [
        'a subject by email (not mapped)',
        async () => ({
          body: await transmitter.set({
            [`${RISC}account-disabled`]: { subject: { format: 'email', email: 'a@b.test' } },
          }),
        }),
        'invalid_request',
      ],
      ['not a JWT', () => Promise.resolve({ body: 'hello' }), 'invalid_request'],
      [
        'an unsecured JWT (the signature segment empty)',
        async () => {
          const set = await transmitter.set(event())
          return { body: set.slice(0, set.lastIndexOf('.') + 1) }
        },
        'invalid_request',
      ],
      [
        'a JWE (five segments)',
        async () => ({ body: `${await transmitter.set(event())}.AAAA.BBBB` }),
        'invalid_request',
      ],
      [
        'a JWS JSON serialization',
        async () => {
          const [header, payload, signature] = (await transmitter.set(event())).split('.')
          return { body: JSON.stringify({ protected: header, payload, signature }) }
        },
        'invalid_request',
      ],
      ['an empty body', () => Promise.resolve({ body: '' }), 'invalid_request'],
      [
        'a body over maxSetBytes (16 KiB)',
        async () => ({
          body: await transmitter.set(event(), { claims: { padding: 'x'.repeat(20_000) } }),
        }),
        'invalid_request',
      ],
      [
        'the wrong content type',
        async () => ({ body: await transmitter.set(event()), contentType: 'application/json' }),
        'invalid_request',
      ],
    ]

    it.each(cases)('%s', async (_case, make, err) => {
      const a = await instance()
      const token = await issuer.token({ sub: 'alice', sid: 'sess-1', iat: seconds() - 30 })
      const { body, contentType } = await make()
      const res = await a.push(body, contentType === undefined ? {} : { contentType })
      expect(res.status).toBe(400)
      const answer = JSON.parse(res.body) as { err: string; description: string }
      expect(answer.err).toBe(err)
      expect(typeof answer.description).toBe('string')
      // Never the SET or a claim value.
      expect(answer.description).not.toContain('alice')
      if (body.length > 0) expect(answer.description).not.toContain(body.slice(0, 20))
      expect(await entries()).toEqual([])
      expect(await a.get(token)).toBe(200)
    })

    it('a replay (same jti) to either instance; a forged SET does not consume the jti', async () => {
      const a = await instance()
      const b = await instance()
      const jti = 'set-replay-1'
      const forged = await transmitter.set(event(), { claims: { jti }, key: transmitter.otherKey })
      expect((await a.push(forged)).status).toBe(400)
      const set = await transmitter.set(event(), { claims: { jti } })
      expect((await a.push(set)).status).toBe(202)
      for (const target of [a, b]) {
        const res = await target.push(set)
        expect(res.status).toBe(400)
        expect(JSON.parse(res.body)).toEqual({
          err: 'invalid_request',
          description: 'SET already received (jti)',
        })
      }
      expect(await entries()).toHaveLength(1)
    })

    it('the push route is guarded like any other: no token 401, another caller 403', async () => {
      const a = await instance()
      const set = await transmitter.set(event())
      expect((await a.push(set, { token: null })).status).toBe(401)
      const stranger = await issuer.token({ sub: 'svc', client_id: 'billing' })
      expect((await a.push(set, { token: stranger })).status).toBe(403)
      expect(await entries()).toEqual([])
      // Not consumed: the transmitter's own delivery still works.
      expect((await a.push(set)).status).toBe(202)
    })
  })

  it('Redis down while applying: 503, the jti released for the retry', async () => {
    const a = await instance({ replay: { max: 100 } })
    const token = await issuer.token({ sub: 'alice', sid: 'sess-1', iat: seconds() - 30 })
    const set = await transmitter.set(sessionRevoked(issuer.issuer, 'alice', 'sess-1'))
    await server.stop()
    const res = await a.push(set)
    expect(res.status).toBe(503)
    await server.restart()
    await sleep(300)
    expect((await a.push(set)).status).toBe(202)
    await untilStatus(a, token, 401)
  })
})

describe.runIf(runRedisTests)('SET receiver by poll (RFC 8936)', () => {
  let server: RedisServer
  let transmitter: TestTransmitter
  let revocation: RedisRevocation
  let redis: Redis
  const clients: Redis[] = []
  beforeAll(async () => {
    server = await RedisServer.start()
    transmitter = await createTestTransmitter()
    redis = await connectedRedis(server.url, clients)
    revocation = createRedisRevocation({ redis })
    await revocation.refresh()
  })
  afterAll(async () => {
    revocation?.close()
    clients.forEach((client) => client.disconnect())
    await transmitter?.close()
    await server?.stop()
  })

  it('acknowledges applied SETs, reports refused ones, and revokes', async () => {
    const endpoint = await transmitter.listen()
    const receiver = createSetReceiver({
      issuer: transmitter.issuer,
      audience: transmitter.audience,
      algorithms: ['ES256'],
      jwks: transmitter.jwks,
      revocation,
      replay: { redis },
    })
    const good = await transmitter.set(sessionRevoked('https://auth.test', 'dave', 'sess-9'))
    const forged = await transmitter.set(sessionRevoked('https://auth.test', 'dave', 'sess-8'), {
      key: transmitter.otherKey,
    })
    transmitter.queue('good', good)
    transmitter.queue('forged', forged)
    const poller = createSetPoller({
      receiver,
      endpoint,
      headers: { authorization: 'Bearer poll-secret' },
      maxEvents: 10,
    })
    const first = await poller.poll()
    expect(first).toMatchObject({ received: 2, acknowledged: ['good'], moreAvailable: false })
    expect(first.errors).toEqual({
      forged: { err: 'authentication_failed', description: 'SET signature verification failed' },
    })
    const dave = (sid: string) => ({
      subject: 'dave',
      issuer: 'https://auth.test',
      clientId: null,
      scopes: new Set<string>(),
      claims: { sid, iat: seconds() - 30 },
    })
    expect(revocation.isRevoked(dave('sess-9'))).toBe(true)
    expect(revocation.isRevoked(dave('sess-8'))).toBe(false)
    // The next request carries the acknowledgements; the transmitter has nothing more.
    const second = await poller.poll()
    expect(second.received).toBe(0)
    expect(transmitter.polls.at(-1)).toMatchObject({
      ack: ['good'],
      setErrs: { forged: { err: 'authentication_failed' } },
      maxEvents: 10,
      returnImmediately: true,
    })
    // A SET delivered again (its acknowledgement lost) is acknowledged, not refused.
    transmitter.queue('good', good)
    expect(await poller.poll()).toMatchObject({ acknowledged: ['good'], errors: {} })
    poller.close()
  })

  it('start() polls until close()', async () => {
    const endpoint = await transmitter.listen()
    const receiver = createSetReceiver({
      issuer: transmitter.issuer,
      audience: transmitter.audience,
      algorithms: ['ES256'],
      jwks: transmitter.jwks,
      revocation,
    })
    const poller = createSetPoller({ receiver, endpoint, interval: 100 })
    transmitter.queue(
      'e1',
      await transmitter.set(sessionRevoked('https://auth.test', 'erin', 's1')),
    )
    poller.start()
    const began = performance.now()
    while (
      !revocation.isRevoked({
        subject: 'erin',
        issuer: 'https://auth.test',
        clientId: null,
        scopes: new Set(),
        claims: { sid: 's1', iat: 1 },
      })
    ) {
      expect(performance.now() - began).toBeLessThan(2000)
      await sleep(20)
    }
    poller.close()
  })

  it('refuses bad options naming the field', () => {
    expect(() => createSetPoller({ receiver: {} as never, endpoint: 'https://x.test' })).toThrow(
      /createSetPoller\.receiver/,
    )
    const receiver = createSetReceiver({
      issuer: transmitter.issuer,
      audience: transmitter.audience,
      algorithms: ['ES256'],
      jwks: transmitter.jwks,
      revocation,
    })
    expect(() => createSetPoller({ receiver, endpoint: 'http://idp.example/poll' })).toThrow(
      /createSetPoller\.endpoint: must use https/,
    )
    // Credentials in the URL would end up in logs and errors: the poll's go in `headers`.
    expect(() =>
      createSetPoller({ receiver, endpoint: 'https://svc:s3cret@idp.example/poll' }),
    ).toThrow(/createSetPoller\.endpoint: must not carry credentials/)
    expect(() => createSetPoller({ receiver, endpoint: 'ftp://idp.example/poll' })).toThrow(
      /createSetPoller\.endpoint: must use https:/,
    )
    expect(() => createSetPoller({ receiver, endpoint: '/poll' })).toThrow(
      /createSetPoller\.endpoint: must be an absolute URL/,
    )
  })
})
