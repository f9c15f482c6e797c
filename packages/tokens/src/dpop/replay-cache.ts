import { createHash } from 'node:crypto'
import { DependencyError } from '@portcullis/core'
import { LRUCache } from 'lru-cache'
import { createRedisGate } from '@portcullis/core/internal'
import type { ResolvedDpopOptions } from '../options/resolve-tokens-options.js'

/** Outcome of recording a proof: first use, a replay, or too old to tell (memory cache full). */
export type ReplayVerdict = 'fresh' | 'replayed' | 'forgotten'

/** Remembers proof identifiers for as long as their proof could be accepted (RFC 9449 §11.1). */
export interface ReplayCache {
  /**
   * Records the proof `jti` of the key `jkt`, whose `iat` is `iat` (seconds), and says whether it
   * was seen before. Rejects with `PCL_DPOP_UNAVAILABLE` when the shared store fails.
   */
  record(jkt: string, jti: string, iat: number): ReplayVerdict | Promise<ReplayVerdict>
}

// A jti is bounded only by the proof size: keys are a hash of it, scoped to the key that signed
// it, so that one client's identifiers cannot collide with another's.
function replayKey(jkt: string, jti: string): string {
  return createHash('sha256').update(jkt).update('\n').update(jti).digest('base64url')
}

/**
 * The per-process cache. Bounded: when full, the least recently recorded proofs are forgotten,
 * and then every proof not younger than the youngest forgotten one is refused ('forgotten'), so a
 * forgotten `jti` can never be replayed. Under such a flood the accepted proof age shrinks; fresh
 * proofs (sent as soon as they are signed) still pass.
 */
function memoryReplayCache(max: number, lifetime: (iat: number) => number): ReplayCache {
  // The highest `iat` among proofs forgotten while they could still be replayed.
  let forgottenUpTo = Number.NEGATIVE_INFINITY
  const seen = new LRUCache<string, number>({
    max,
    dispose(iat, _key, reason) {
      if (reason === 'evict' && lifetime(iat) > 0 && iat > forgottenUpTo) forgottenUpTo = iat
    },
  })
  return {
    record(jkt, jti, iat) {
      if (iat <= forgottenUpTo) return 'forgotten'
      const key = replayKey(jkt, jti)
      if (seen.has(key)) return 'replayed'
      seen.set(key, iat, { ttl: Math.max(1, lifetime(iat)) })
      return 'fresh'
    },
  }
}

/** The cache shared by every instance on one Redis: `SET key 1 NX PX <lifetime>`. */
function redisReplayCache(
  options: Extract<ResolvedDpopOptions['replay'], { kind: 'redis' }>,
  lifetime: (iat: number) => number,
): ReplayCache {
  const { client, prefix, timeout } = options
  const gate = createRedisGate(client, timeout)
  return {
    async record(jkt, jti, iat) {
      let reply: unknown
      try {
        reply = await gate.run(() =>
          client.call(
            'SET',
            `${prefix}${replayKey(jkt, jti)}`,
            '1',
            'PX',
            Math.max(1, lifetime(iat)),
            'NX',
          ),
        )
      } catch (cause) {
        throw new DependencyError('PCL_DPOP_UNAVAILABLE', {
          message: 'DPoP replay store (Redis) failed',
          cause,
        })
      }
      return reply === 'OK' ? 'fresh' : 'replayed'
    },
  }
}

/** The replay cache the options name: in memory by default, in Redis when configured. */
export function createReplayCache(options: ResolvedDpopOptions): ReplayCache {
  // A proof is accepted while the current second is at most iat + maxAge + clockTolerance (the
  // claim check compares whole seconds), so until the end of that second: its jti is kept as long.
  const window = options.maxAge + options.clockTolerance
  const lifetime = (iat: number): number => Math.ceil((iat + window + 1) * 1000 - Date.now())
  return options.replay.kind === 'redis'
    ? redisReplayCache(options.replay, lifetime)
    : memoryReplayCache(options.replay.max, lifetime)
}
