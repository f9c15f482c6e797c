import { createTestIssuer, type TestIssuer } from '@portcullis/testing'
import {
  createRedisRevocation,
  createSetReceiver,
  type RedisRevocation,
  type SetReceiver,
} from '@portcullis/tokens'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runClusterTests, useRedisCluster } from '../rate-limit/redis-cluster.js'
import {
  createTestTransmitter,
  receiverOf,
  sessionRevoked,
  type TestTransmitter,
} from './transmitter.js'

// The `jti`s of received SETs on a Redis Cluster of three masters, through ioredis Cluster
// clients: each SET is one key (`SET NX PX`, `DEL`), routed to its slot's master, so that two
// instances on one cluster refuse each other's replays as they do on one server.
describe.runIf(runClusterTests)('SET replay keys on a Redis Cluster', () => {
  const current = useRedisCluster()
  let issuer: TestIssuer
  let transmitter: TestTransmitter
  const revocations: RedisRevocation[] = []

  beforeAll(async () => {
    issuer = await createTestIssuer({ issuer: 'https://auth.ssf.test', audience: 'videos-api' })
    transmitter = await createTestTransmitter()
  })
  afterAll(async () => {
    for (const revocation of revocations.splice(0)) revocation.close()
    await transmitter?.close()
  })

  async function receiver(): Promise<SetReceiver> {
    const redis = await current().client()
    const revocation = createRedisRevocation({
      redis,
      pollInterval: 100,
      timeout: 500,
      staleAfter: 3000,
    })
    revocations.push(revocation)
    return createSetReceiver({
      ...receiverOf(transmitter, issuer.issuer, revocation),
      replay: { redis, timeout: 1000 },
    })
  }

  const setKeys = async () =>
    (await current().keys()).filter((key) => key.startsWith('portcullis:set:'))

  it('a SET applied by one instance is a replay to both; its jti is one key', async () => {
    const a = await receiver()
    const b = await receiver()
    const set = await transmitter.set(sessionRevoked(issuer.issuer, 'alice', 'sess-1'), {
      claims: { jti: 'cluster-1' },
    })
    expect(await a.receive(set)).toMatchObject({ status: 202, jti: 'cluster-1' })
    for (const target of [a, b]) {
      expect(await target.receive(set)).toMatchObject({ status: 400, replayed: true })
    }
    expect(await setKeys()).toHaveLength(1)
  })

  it('a forged SET consumes no jti: the genuine one with that jti is applied after it', async () => {
    const a = await receiver()
    const b = await receiver()
    const events = sessionRevoked(issuer.issuer, 'bob', 'sess-2')
    const forged = await transmitter.set(events, {
      claims: { jti: 'cluster-2' },
      key: transmitter.otherKey,
    })
    const refused = await a.receive(forged)
    expect(refused).toMatchObject({ status: 400 })
    expect(refused).not.toHaveProperty('replayed')
    const before = await setKeys()
    const genuine = await transmitter.set(events, { claims: { jti: 'cluster-2' } })
    expect(await b.receive(genuine)).toMatchObject({ status: 202, jti: 'cluster-2' })
    expect(await a.receive(genuine)).toMatchObject({ status: 400, replayed: true })
    expect(await setKeys()).toHaveLength(before.length + 1)
  })
})
