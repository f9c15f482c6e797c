import portcullis, { type PortcullisOptions } from '@portcullis/fastify'
import type { TestIssuer } from '@portcullis/testing'
import type { TokensOptions } from '@portcullis/tokens'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { trustedTokens } from '../helpers.js'
import { RedisServer } from '../rate-limit/redis-server.js'

// What the DPoP, mTLS and revocation suites share: Portcullis over one test issuer (realm
// "videos", no response allowlists: these suites are about tokens), and Redis clients.

/** Registers Portcullis on `app` trusting `issuer` (ES256, its JWKS as an object). */
export async function registerPortcullis(
  app: FastifyInstance,
  issuer: TestIssuer,
  options: {
    tokens?: Partial<TokensOptions>
    issuer?: Partial<TokensOptions['issuers'][number]>
    audit?: PortcullisOptions['audit']
  } = {},
): Promise<void> {
  const trusted = trustedTokens(issuer)
  await app.register(portcullis, {
    tokens: {
      ...trusted,
      issuers: trusted.issuers.map((entry) => ({ ...entry, ...options.issuer })),
      realm: 'videos',
      ...options.tokens,
    },
    ...(options.audit === undefined ? {} : { audit: options.audit }),
    response: { requireResponse: false },
  })
}

/**
 * A connected ioredis client for `url`, failing fast while the server is down (no offline queue),
 * added to `clients` for the suite to disconnect.
 */
export async function connectedRedis(url: string, clients: Redis[]): Promise<Redis> {
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
  clients.push(client)
  client.on('error', () => {}) // reconnection attempts while a test stops the server
  await new Promise((resolve) => client.once('ready', resolve))
  return client
}

/**
 * A loopback redis-server for the enclosing `describe` (started before its tests, stopped after)
 * and connected clients on it ({@link connectedRedis}), disconnected after the suite.
 */
export function useRedisServer(): { server: () => RedisServer; client: () => Promise<Redis> } {
  let started: RedisServer | undefined
  const clients: Redis[] = []
  beforeAll(async () => {
    started = await RedisServer.start()
  })
  afterAll(async () => {
    clients.splice(0).forEach((client) => client.disconnect())
    await started?.stop()
  })
  const server = (): RedisServer => {
    if (started === undefined) throw new Error('redis-server not started')
    return started
  }
  return { server, client: () => connectedRedis(server().url, clients) }
}
