import { PortcullisConfigError } from '@portcullis/core'
import type * as IORedis from 'ioredis'
import type { LimiterLog } from '../limiter/limit-outcomes.js'
import type { RedisClient } from '../options/rate-limit-options.js'

/** A Redis client the plugin created from a URL, and so connects and closes itself. */
export interface OwnedRedis {
  readonly client: RedisClient
  /** Starts connecting; a failure is logged and retried by ioredis, never thrown. */
  connect(): void
  close(): Promise<void>
}

const QUIT_WAIT_MS = 1000

/**
 * Creates an ioredis client for `url`, not yet connected. `ioredis` is an optional peer
 * dependency, imported only when a URL is given. `log` is any pino-style logger.
 */
export async function createOwnedRedis(
  url: string,
  log: Pick<LimiterLog, 'info' | 'warn'>,
): Promise<OwnedRedis> {
  let ioredis: typeof IORedis
  try {
    ioredis = await import('ioredis')
  } catch (cause) {
    throw new PortcullisConfigError(
      'PCL_INVALID_OPTIONS',
      'portcullis options: rateLimit.redis is a URL, which needs the ioredis package: install it (npm install ioredis) or pass a client',
      { field: 'rateLimit.redis', cause },
    )
  }
  const client = new ioredis.Redis(url, {
    lazyConnect: true,
    // Fail fast while disconnected (the counter answers by onStoreError) rather than queueing
    // every request of an outage in memory; one retry per command at most.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  })
  // One warning per outage: ioredis emits an error on every reconnection attempt.
  let down = false
  client.on('error', function portcullisRedisError(err: Error) {
    if (down) return
    down = true
    log.warn({ err }, 'portcullis: rate-limit Redis connection failed; reconnecting')
  })
  client.on('ready', function portcullisRedisReady() {
    if (down) log.info({}, 'portcullis: rate-limit Redis connection restored')
    down = false
  })
  return {
    client,
    connect() {
      if (client.status !== 'wait') return
      client.connect().catch(() => {
        // Reported by the error listener; ioredis keeps reconnecting on its own.
      })
    },
    async close() {
      if (client.status === 'ready') {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          client.quit().catch(() => undefined),
          new Promise((resolve) => {
            timer = setTimeout(resolve, QUIT_WAIT_MS)
          }),
        ])
        clearTimeout(timer)
      }
      client.disconnect()
    },
  }
}
