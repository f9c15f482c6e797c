import { type Duration, type Principal } from '@portcullis/core'
import { invalidOptionsError } from '@portcullis/core/internal'
import { decodeJwt } from 'jose'
import { z } from 'zod'
import { createRedisGate } from '@portcullis/core/internal'
import { duration, nonEmptyString, redisClientSchema } from '../lib/schema-parts.js'
import type { TokensRedisClient } from '../options/tokens-options.js'

/**
 * Options of {@link createRedisRevocation}. Times are milliseconds, or a {@link Duration} string
 * (`'2s'`).
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#shared-revocation
 */
export interface RedisRevocationOptions {
  /**
   * An ioredis client (`Redis` or `Cluster`). The application creates, connects and closes it;
   * commands are sent only while it is `'ready'`.
   */
  redis: TokensRedisClient
  /** Prefix of the two keys the revocation list uses. Default `'portcullis:revoked:'`. */
  prefix?: string
  /**
   * How often each instance refreshes its copy of the list: with Redis healthy, a revocation is
   * enforced everywhere within about `pollInterval` (plus Redis round trips). Default 1000, from 50
   * to 60000.
   */
  pollInterval?: Duration
  /** Deadline of one Redis command. Default 500, from 1 to 60000. */
  timeout?: Duration
  /**
   * How long an instance keeps answering from its copy when it cannot refresh it (Redis down or
   * slow). Past it, every token is refused with 503 `PCL_REVOCATION_UNAVAILABLE` (fail closed).
   * It bounds the delay of a revocation: every instance refuses a revoked token at most
   * `staleAfter` after `revoke()` resolved, whatever happens to Redis. Default 5000; at least
   * `pollInterval` plus 4 × `timeout` (a poll in flight, then a full one), at most 3600000.
   */
  staleAfter?: Duration
}

/** What can be revoked: a token's `jti` with its `exp`, a verified principal, or a JWT. */
export type RevocationTarget = { jti: string; exp: number } | Principal | string

/**
 * A revocation list shared by every instance through Redis: a sorted set of revoked `jti`s, each
 * kept until its token's `exp`, mirrored in memory by each instance so that checking a token is a
 * set lookup, cache hits of the verifier included.
 */
export interface RedisRevocation {
  /**
   * The `tokens.isRevoked` option: `true` when the principal's `jti` is revoked. Synchronous once
   * the list is loaded; before the first load it waits for it. Throws (503
   * `PCL_REVOCATION_UNAVAILABLE`) when the list is older than `staleAfter`. Tokens without `jti`
   * are never revoked by it.
   */
  readonly isRevoked: (principal: Principal) => boolean | Promise<boolean>
  /**
   * Revokes a token on every instance: its `jti` is stored until its `exp` (seconds). Takes a
   * `{ jti, exp }`, a verified `Principal`, or the token itself (decoded, not verified: this is an
   * administrative action). Applies to this instance at once, to the others within `pollInterval`.
   * Rejects when Redis does not acknowledge it.
   */
  revoke(target: RevocationTarget): Promise<void>
  /** Refreshes this instance's copy now (the poller does it every `pollInterval`). */
  refresh(): Promise<void>
  /** Stops polling. The Redis client stays open: it belongs to the application. */
  close(): void
}

const defaults = Object.freeze({
  prefix: 'portcullis:revoked:',
  pollInterval: 1000,
  timeout: 500,
  staleAfter: 5000,
})

const optionsSchema = z
  .strictObject(
    {
      redis: redisClientSchema,
      prefix: nonEmptyString.max(200, 'must be at most 200 characters').optional(),
      pollInterval: duration('ms', 50, 60_000).optional(),
      timeout: duration('ms', 1, 60_000).optional(),
      staleAfter: duration('ms', 1, 3_600_000).optional(),
    },
    { error: 'must be an object' },
  )
  .superRefine((options, ctx) => {
    const poll = options.pollInterval ?? defaults.pollInterval
    const timeout = options.timeout ?? defaults.timeout
    const staleAfter = options.staleAfter ?? defaults.staleAfter
    // A revocation reaches a healthy instance within a poll in flight (two commands) and the next
    // poll: staleAfter must cover that, so that it bounds the delay and a healthy instance never
    // looks stale.
    if (staleAfter < poll + 4 * timeout) {
      ctx.addIssue({
        code: 'custom',
        path: ['staleAfter'],
        message: `must be at least pollInterval + 4 × timeout (${poll + 4 * timeout})`,
      })
    }
  })

function targetOf(target: RevocationTarget): { jti: string; exp: number } {
  let jti: unknown
  let exp: unknown
  if (typeof target === 'string') {
    ;({ jti, exp } = decodeJwt(target))
  } else if ('claims' in target) {
    ;({ jti, exp } = target.claims)
  } else {
    ;({ jti, exp } = target)
  }
  if (typeof jti !== 'string' || jti.length === 0) {
    throw new TypeError('revoke: the token has no jti, so it cannot be revoked by jti')
  }
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw new TypeError('revoke: the token has no numeric exp')
  }
  return { jti, exp }
}

/**
 * Creates a revocation list shared through Redis, for `tokens.isRevoked`, and starts refreshing
 * this instance's copy of it every `pollInterval`.
 *
 * @example
 * ```ts
 * const revocation = createRedisRevocation({ redis: new Redis(process.env.REDIS_URL) })
 * await app.register(portcullis, { tokens: { issuers, isRevoked: revocation.isRevoked } })
 * app.addHook('onClose', () => revocation.close())
 * // In an admin route or script:
 * await revocation.revoke(principal)
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#shared-revocation
 */
export function createRedisRevocation(options: RedisRevocationOptions): RedisRevocation {
  const parsed = optionsSchema.safeParse(options)
  if (!parsed.success) {
    throw invalidOptionsError(parsed.error.issues, 'createRedisRevocation', parsed.error)
  }
  const { redis } = parsed.data
  const prefix = parsed.data.prefix ?? defaults.prefix
  const pollInterval = parsed.data.pollInterval ?? defaults.pollInterval
  const timeout = parsed.data.timeout ?? defaults.timeout
  const staleAfter = parsed.data.staleAfter ?? defaults.staleAfter
  // A sorted set of revoked jtis scored by exp (seconds), and a counter bumped on every
  // revocation, so that an unchanged list costs one GET per poll.
  const listKey = `${prefix}jti`
  const versionKey = `${prefix}version`

  /** The copy: jti → exp (seconds). Replaced whole on every change of the version. */
  let revoked = new Map<string, number>()
  let version: unknown = undefined
  let loadedAt = Number.NEGATIVE_INFINITY
  let closed = false
  let timer: NodeJS.Timeout | undefined
  let refreshing: Promise<void> | undefined

  const gate = createRedisGate(redis, timeout)
  const command = (name: string, ...args: (string | number)[]): Promise<unknown> =>
    gate.run(() => redis.call(name, ...args))

  async function load(): Promise<void> {
    // The version is read first: a revocation landing between the two reads is in the list
    // already, and the changed version makes the next poll load it again.
    const current = await command('GET', versionKey)
    if (current === version && version !== undefined) {
      loadedAt = Date.now()
      return
    }
    const now = Math.floor(Date.now() / 1000)
    const reply = await command('ZRANGEBYSCORE', listKey, `(${now}`, '+inf', 'WITHSCORES')
    const next = new Map<string, number>()
    if (Array.isArray(reply)) {
      for (let i = 0; i + 1 < reply.length; i += 2) {
        next.set(String(reply[i]), Number(reply[i + 1]))
      }
    }
    revoked = next
    version = current
    loadedAt = Date.now()
  }

  function refresh(): Promise<void> {
    refreshing ??= load().finally(() => {
      refreshing = undefined
    })
    return refreshing
  }

  function schedule(): void {
    if (closed) return
    timer = setTimeout(function portcullisRevocationPoll() {
      // A failed poll keeps the last copy until staleAfter; the next poll tries again.
      refresh()
        .catch(() => undefined)
        .finally(schedule)
    }, pollInterval)
    timer.unref()
  }

  const first = refresh()
  first.catch(() => undefined)
  schedule()

  function lookup(principal: Principal): boolean {
    if (Date.now() - loadedAt > staleAfter) {
      throw new Error(
        `revocation list not refreshed for more than staleAfter (${staleAfter} ms): Redis unavailable`,
      )
    }
    const jti = principal.claims.jti
    return typeof jti === 'string' && revoked.has(jti)
  }

  function isRevoked(principal: Principal): boolean | Promise<boolean> {
    // Before the first load there is no copy to answer from: wait for it (or for its failure).
    if (loadedAt === Number.NEGATIVE_INFINITY) return refresh().then(() => lookup(principal))
    return lookup(principal)
  }

  async function revoke(target: RevocationTarget): Promise<void> {
    const { jti, exp } = targetOf(target)
    const now = Math.floor(Date.now() / 1000)
    if (exp <= now) return
    await command('ZADD', listKey, exp, jti)
    await command('INCR', versionKey)
    revoked.set(jti, exp)
    // Entries of expired tokens are dropped by whoever revokes next: the list holds only tokens
    // that could still verify.
    await command('ZREMRANGEBYSCORE', listKey, '-inf', now)
  }

  return Object.freeze({
    isRevoked,
    revoke,
    refresh,
    close() {
      closed = true
      clearTimeout(timer)
    },
  })
}
