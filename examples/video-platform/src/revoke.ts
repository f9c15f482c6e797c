/**
 * An operator's script: revoke every token of a user, a session or a client, on every instance
 * that shares the revocation list (`createRedisRevocation` as `tokens.isRevoked`).
 *
 *   REDIS_URL=redis://redis.internal:6379 \
 *     pnpm --filter @portcullis/example-video-platform run revoke subject <issuer> <sub>
 *   ... run revoke session <issuer> <sid> [--issued-before 2026-12-06T10:00:00Z]
 *   ... run revoke client <issuer> <client_id>
 */
import { pathToFileURL } from 'node:url'
import { createRedisRevocation, type RedisRevocation } from '@portcullis/tokens'
import { Redis } from 'ioredis'

const USAGE =
  'usage: revoke subject|session|client <issuer> <id> [--issued-before <ISO date>]  (REDIS_URL)'

const methods = {
  subject: 'revokeSubject',
  session: 'revokeSession',
  client: 'revokeClient',
} as const satisfies Record<string, keyof RedisRevocation>

/** Runs one revocation from command-line arguments against `redis`; resolves with a summary. */
export async function revokeFromArgs(args: readonly string[], redis: Redis): Promise<string> {
  const [kind, issuer, id, flag, when] = args
  if (
    (kind !== 'subject' && kind !== 'session' && kind !== 'client') ||
    issuer === undefined ||
    id === undefined ||
    (flag !== undefined && (flag !== '--issued-before' || when === undefined))
  ) {
    throw new Error(USAGE)
  }
  const issuedBefore = when === undefined ? new Date() : new Date(when)
  if (Number.isNaN(issuedBefore.getTime())) throw new Error(`not a date: ${when}`)
  // The services' prefix (default), and the longest lifetime of their tokens (default 24 h): the
  // entry is kept that long after issuedBefore.
  const revocation = createRedisRevocation({ redis })
  try {
    // Resolves once Redis has recorded it: every instance refuses those tokens within about a
    // second (pollInterval), and within staleAfter whatever happens.
    await revocation[methods[kind]](issuer, id, { issuedBefore })
  } finally {
    revocation.close()
  }
  return `revoked the tokens of ${kind} ${id} (${issuer}) issued up to ${issuedBefore.toISOString()}`
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  })
  try {
    await redis.connect()
    console.log(await revokeFromArgs(process.argv.slice(2), redis))
  } catch (err) {
    console.error(err instanceof Error ? err.message : err)
    process.exitCode = 1
  } finally {
    redis.disconnect()
  }
}
