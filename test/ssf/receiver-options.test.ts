import { setTimeout as sleep } from 'node:timers/promises'
import { createJwksServer, type JwksServer } from '@portcullis/testing'
import { createSetReceiver, type SetReceiverOptions, type SetRevocations } from '@portcullis/tokens'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CAEP, createTestTransmitter, sessionRevoked, type TestTransmitter } from './transmitter.js'

// The receiver alone (no framework, no Redis): its options, remote keys, and the paths the push
// suites do not take. A revocation stand-in records what it is asked.

function recorder(fail = false): SetRevocations & { calls: unknown[][] } {
  const calls: unknown[][] = []
  const record =
    (name: string) =>
    (...args: unknown[]): Promise<void> => {
      calls.push([name, ...args])
      return fail ? Promise.reject(new Error('redis down')) : Promise.resolve()
    }
  return {
    calls,
    revokeSubject: record('subject'),
    revokeSession: record('session'),
    revokeClient: record('client'),
  }
}

function withoutKid<T extends { kid?: string }>(jwk: T): Omit<T, 'kid'> {
  const copy = { ...jwk }
  delete copy.kid
  return copy
}

describe('createSetReceiver', () => {
  let transmitter: TestTransmitter
  let jwksServer: JwksServer
  let jwksUri: string
  beforeAll(async () => {
    transmitter = await createTestTransmitter()
    jwksServer = createJwksServer(transmitter.jwks)
    jwksUri = await jwksServer.listen()
  })
  afterAll(async () => {
    await jwksServer?.close()
  })

  const base = (revocation: SetRevocations): SetReceiverOptions => ({
    issuer: transmitter.issuer,
    audience: transmitter.audience,
    algorithms: ['ES256'],
    jwks: transmitter.jwks,
    revocation,
  })

  it.each([
    [{ algorithms: undefined }, /createSetReceiver\.algorithms/],
    [{ algorithms: ['none'] }, /createSetReceiver\.algorithms/],
    [{ issuer: '' }, /createSetReceiver\.issuer/],
    [{ jwks: undefined, jwksUri: 'http://idp.example/jwks' }, /createSetReceiver\.jwksUri/],
    [{ jwksFetch: { timeout: -1 } }, /createSetReceiver\.jwksFetch\.timeout/],
    [{ revocation: {} }, /createSetReceiver\.revocation/],
    [{ maxAge: '1 year' }, /createSetReceiver\.maxAge/],
    [{ replay: { redis: 'redis://x' } }, /createSetReceiver\.replay/],
    [{ typ: 'at+jwt' }, /createSetReceiver.*typ/],
    [{ clockTolerance: 3600 }, /createSetReceiver\.clockTolerance/],
  ])('refuses %j naming the field', (override, message) => {
    expect(() => createSetReceiver({ ...base(recorder()), ...override } as never)).toThrow(message)
  })

  it('fetches the transmitter keys from jwksUri; keys unreachable: 503, nothing applied, jti kept', async () => {
    const revocation = recorder()
    const rest = base(revocation)
    delete rest.jwks
    const receiver = createSetReceiver({
      ...rest,
      jwksUri,
      jwksFetch: { cooldown: 1000, timeout: 200 },
    })
    const down = await transmitter.set(sessionRevoked('https://auth.test', 'a', 's'))
    jwksServer.setBehavior('down')
    await expect(receiver.receive(down)).resolves.toMatchObject({ status: 503 })
    expect(revocation.calls).toEqual([])
    jwksServer.setBehavior('ok')
    // A failed fetch is not retried before the cooldown.
    await sleep(1100)
    await expect(receiver.receive(down)).resolves.toMatchObject({ status: 202 })
    expect(revocation.calls).toEqual([
      ['session', 'https://auth.test', 's', { issuedBefore: expect.any(Number) as number }],
    ])
  })

  it('tries each key that fits a SET without kid', async () => {
    const revocation = recorder()
    const [real] = transmitter.jwks.keys
    const { exportJWK, generateKeyPair } = await import('jose')
    const decoy = { ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), alg: 'ES256' }
    const receiver = createSetReceiver({
      ...base(revocation),
      jwks: { keys: [decoy, withoutKid(real!)] },
    })
    const set = await transmitter.set(sessionRevoked('https://auth.test', 'a', 's'), {
      header: { kid: undefined },
    })
    await expect(receiver.receive(set)).resolves.toMatchObject({ status: 202 })
  })

  it('a revocation that fails: 503 and the jti released, so that the retry applies', async () => {
    const failing = recorder(true)
    const receiver = createSetReceiver(base(failing))
    const set = await transmitter.set({
      [`${CAEP}credential-change`]: { subject: { format: 'opaque', id: 'u' } },
    })
    await expect(receiver.receive(set)).resolves.toMatchObject({ status: 503 })
    await expect(receiver.receive(set)).resolves.toMatchObject({ status: 503 })
    expect(failing.calls).toHaveLength(2)
  })

  it('refuses a SET over maxSetBytes and anything that is not a string', async () => {
    const revocation = recorder()
    const receiver = createSetReceiver({ ...base(revocation), maxSetBytes: 256 })
    const set = await transmitter.set(sessionRevoked('https://auth.test', 'a'.repeat(300), 's'))
    await expect(receiver.receive(set)).resolves.toMatchObject({
      status: 400,
      err: 'invalid_request',
    })
    await expect(receiver.receive({ set })).resolves.toMatchObject({ status: 400 })
    await expect(
      receiver.push(Buffer.from(set), 'application/secevent+jwt'),
    ).resolves.toMatchObject({ status: 400 })
    expect(revocation.calls).toEqual([])
  })
})
