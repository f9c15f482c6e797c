import { createHash } from 'node:crypto'
import { createRedisGate } from '@portcullis/core/internal'
import { LRUCache } from 'lru-cache'
import type { TokensRedisClient } from '../options/tokens-options.js'

/**
 * Where the `jti`s of received SETs are remembered, so that a SET delivered twice (a replay, or a
 * retry after a lost answer) changes nothing the second time.
 */
export interface SetReplayStore {
  /**
   * Records `key` (of a SET issued at `iat`, seconds) for `ttl` ms; `false` when it was recorded
   * already, or may have been. Rejects when a shared store fails.
   */
  claim(key: string, ttl: number, iat: number): Promise<boolean>
  /** Forgets `key` (the SET could not be applied: its retry must be accepted). */
  release(key: string): Promise<void>
}

/** The key of a SET: its issuer and `jti`, hashed (a `jti` is as long as the sender likes). */
export function setKey(issuer: string, jti: string): string {
  // Length-prefixed, so that no two (issuer, jti) pairs hash the same input.
  return createHash('sha256').update(`${issuer.length}:${issuer}`).update(jti).digest('base64url')
}

/**
 * The per-process store. Bounded: once full, the least recently received SETs are forgotten, and
 * from then on every SET issued at or before the newest forgotten one is refused as possibly
 * replayed, so a forgotten `jti` can never be replayed; fresh SETs still pass.
 */
export function memorySetReplayStore(max: number): SetReplayStore {
  let forgottenUpTo = Number.NEGATIVE_INFINITY
  const seen = new LRUCache<string, number>({
    max,
    ttlAutopurge: false,
    dispose(iat, _key, reason) {
      if (reason === 'evict' && iat > forgottenUpTo) forgottenUpTo = iat
    },
  })
  return {
    claim(key, ttl, iat) {
      if (iat <= forgottenUpTo || seen.has(key)) return Promise.resolve(false)
      seen.set(key, iat, { ttl: Math.max(1, ttl) })
      return Promise.resolve(true)
    },
    release(key) {
      seen.delete(key)
      return Promise.resolve()
    },
  }
}

/** The store shared by every instance on one Redis: `SET <prefix><key> 1 NX PX <ttl>`. */
export function redisSetReplayStore(
  client: TokensRedisClient,
  prefix: string,
  timeout: number,
): SetReplayStore {
  const gate = createRedisGate(client, timeout)
  return {
    async claim(key, ttl) {
      const reply = await gate.run(() =>
        client.call('SET', `${prefix}${key}`, '1', 'PX', Math.max(1, ttl), 'NX'),
      )
      return reply === 'OK'
    },
    async release(key) {
      await gate.run(() => client.call('DEL', `${prefix}${key}`))
    },
  }
}
