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
  /**
   * Prefix of the three keys the revocation list uses: `{<prefix>}jti`, `{<prefix>}version` and
   * `{<prefix>}issued-before`, the prefix being their Redis Cluster hash tag (a prefix with a hash
   * tag of its own, `'app:{revoked}:'`, is used as it is). Default `'portcullis:revoked:'`.
   */
  prefix?: string
  /**
   * The longest lifetime (`exp` − `iat`) of a token of any issuer: how long a revocation by
   * subject, session or client ({@link RedisRevocation.revokeSubject}) is kept after its
   * `issuedBefore`, plus 5 minutes of clock tolerance. A token that lives longer than this outlives
   * its revocation. Default `'24h'`, from 1 s to 30 days.
   */
  maxTokenLifetime?: Duration
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
 * Options of {@link RedisRevocation.revokeSubject}, {@link RedisRevocation.revokeSession} and
 * {@link RedisRevocation.revokeClient}.
 */
export interface RevokeIssuedBeforeOptions {
  /**
   * Tokens whose `iat` is at or before this time are refused; tokens issued later pass. A `Date`
   * or seconds since the epoch (a JWT NumericDate, not milliseconds). Default: now. At most 5
   * minutes in the future.
   */
  issuedBefore?: Date | number
}

/**
 * A revocation list shared by every instance through Redis: a sorted set of revoked `jti`s, each
 * kept until its token's `exp`, and one of subjects, sessions and clients with the time before
 * which their tokens are refused, each kept for `maxTokenLifetime`, mirrored in memory by each instance so that checking a token is a
 * set lookup, cache hits of the verifier included.
 */
export interface RedisRevocation {
  /**
   * The `tokens.isRevoked` option: `true` when the principal's `jti` is revoked, or its subject,
   * session or client was revoked after it was issued. Synchronous once the list is loaded; before
   * the first load it waits for it. Throws (503 `PCL_REVOCATION_UNAVAILABLE`) when the list is
   * older than `staleAfter`.
   */
  readonly isRevoked: (principal: Principal) => boolean | Promise<boolean>
  /**
   * Revokes a token on every instance: its `jti` is stored until its `exp` (seconds). Takes a
   * `{ jti, exp }`, a verified `Principal`, or the token itself (decoded, not verified: this is an
   * administrative action). Applies to this instance at once, to the others within `pollInterval`.
   * Rejects when Redis does not acknowledge it.
   */
  revoke(target: RevocationTarget): Promise<void>
  /**
   * Revokes every token of `subject` (`sub`) from `issuer` (`iss`) issued at or before
   * `issuedBefore` (default now), on every instance, cached verifications included. A token of
   * that subject without a numeric `iat` is refused as well (fail closed). Kept for
   * `maxTokenLifetime` after `issuedBefore`. Rejects when Redis does not acknowledge it.
   */
  revokeSubject(issuer: string, subject: string, options?: RevokeIssuedBeforeOptions): Promise<void>
  /** As {@link RedisRevocation.revokeSubject}, for the tokens of one session (`sid` claim). */
  revokeSession(
    issuer: string,
    sessionId: string,
    options?: RevokeIssuedBeforeOptions,
  ): Promise<void>
  /** As {@link RedisRevocation.revokeSubject}, for the tokens of one client (`client_id` or `azp`). */
  revokeClient(issuer: string, clientId: string, options?: RevokeIssuedBeforeOptions): Promise<void>
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
  maxTokenLifetime: 86_400_000,
})

/** Seconds added to `maxTokenLifetime`: the largest `clockTolerance` the verifier accepts. */
const CLOCK_MARGIN = 300

/** What a revocation by time covers: tokens of a subject (`sub`), a session (`sid`), a client. */
type Kind = 'sub' | 'sid' | 'client'

// Recording a revocation is one script, so that the entry, the key's expiry and the version
// change together; its keys share a hash tag. The key expires with its last entry: a list nobody
// adds to disappears by itself.
const RECORD = `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[1], math.ceil(tonumber(last[2])) + 1)
return redis.call('INCR', KEYS[2])`

// Both lists in one round trip, so that a changed version costs two commands, as it always has.
const LOAD = `return { redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES'),
  redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf') }`

/**
 * The keys' common start, so that on a Redis Cluster they share one slot (it hashes only what lies
 * between the first `{` and the next `}`, when not empty): a prefix with a hash tag is kept, any
 * other becomes the tag, braces (and the escape character) inside it escaped.
 */
function tagged(prefix: string): string {
  const open = prefix.indexOf('{')
  if (open >= 0 && prefix.indexOf('}', open + 1) > open + 1) return prefix
  return `{${prefix.replace(/[{}%]/gu, (c) => `%${c.charCodeAt(0).toString(16)}`)}}`
}

const cutoffKey = (kind: Kind, issuer: string, id: string): string => `${kind}\n${issuer}\n${id}`

/** Seconds since the epoch of `issuedBefore` (default now); refuses what cannot be meant. */
function issuedBeforeOf(options: RevokeIssuedBeforeOptions | undefined, now: number): number {
  const given = options?.issuedBefore
  if (given === undefined) return now
  const seconds = given instanceof Date ? Math.floor(given.getTime() / 1000) : given
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
    throw new TypeError('issuedBefore must be a Date or seconds since the epoch')
  }
  if (seconds > now + CLOCK_MARGIN) {
    throw new TypeError(
      'issuedBefore is more than 5 minutes in the future (seconds since the epoch, not milliseconds)',
    )
  }
  return Math.floor(seconds)
}

const optionsSchema = z
  .strictObject(
    {
      redis: redisClientSchema,
      prefix: nonEmptyString.max(200, 'must be at most 200 characters').optional(),
      pollInterval: duration('ms', 50, 60_000).optional(),
      timeout: duration('ms', 1, 60_000).optional(),
      staleAfter: duration('ms', 1, 3_600_000).optional(),
      maxTokenLifetime: duration('ms', 1000, 30 * 86_400_000).optional(),
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

/** Keeps the latest `issuedBefore` of one subject, session or client: it covers the others. */
function addCutoff(
  into: Map<string, number>,
  kind: Kind,
  issuer: string,
  id: string,
  before: number,
): void {
  const key = cutoffKey(kind, issuer, id)
  const known = into.get(key)
  if (known === undefined || before > known) into.set(key, before)
}

/** A member of the list of revocations by time, or undefined for one this version cannot read. */
function parseCutoff(member: unknown): [Kind, string, string, number] | undefined {
  let value: unknown
  try {
    value = JSON.parse(String(member))
  } catch {
    return undefined
  }
  if (!Array.isArray(value) || value.length !== 4) return undefined
  const [kind, issuer, id, before] = value as unknown[]
  if (kind !== 'sub' && kind !== 'sid' && kind !== 'client') return undefined
  if (typeof issuer !== 'string' || typeof id !== 'string' || typeof before !== 'number') {
    return undefined
  }
  return [kind, issuer, id, before]
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
  const lifetime =
    Math.ceil((parsed.data.maxTokenLifetime ?? defaults.maxTokenLifetime) / 1000) + CLOCK_MARGIN
  // A sorted set of revoked jtis scored by exp (seconds), one of revocations by time (members
  // `[kind, issuer, id, issuedBefore]` as JSON) scored by when they lapse, and a counter bumped on
  // every revocation, so that an unchanged list costs one GET per poll.
  const tag = tagged(prefix)
  const listKey = `${tag}jti`
  const versionKey = `${tag}version`
  const cutoffsKey = `${tag}issued-before`

  /** The copy: jti → exp (seconds). Replaced whole on every change of the version. */
  let revoked = new Map<string, number>()
  /** The copy: kind, issuer and id → the latest `issuedBefore` (seconds). */
  let cutoffs = new Map<string, number>()
  /**
   * This instance's own revocations since the current load began: a load that read Redis before
   * one of them landed must not drop it from the copy (the revoking instance refuses at once).
   */
  let ownSinceLoad: (() => void)[] = []
  let version: unknown = undefined
  let loadedAt = Number.NEGATIVE_INFINITY
  let closed = false
  let timer: NodeJS.Timeout | undefined
  let refreshing: Promise<void> | undefined

  const gate = createRedisGate(redis, timeout)
  const command = (name: string, ...args: (string | number)[]): Promise<unknown> =>
    gate.run(() => redis.call(name, ...args))

  async function load(): Promise<void> {
    const own: (() => void)[] = []
    ownSinceLoad = own
    // The version is read first: a revocation landing between the two reads is in the list
    // already, and the changed version makes the next poll load it again.
    const current = await command('GET', versionKey)
    if (current === version && version !== undefined) {
      loadedAt = Date.now()
      return
    }
    const now = Math.floor(Date.now() / 1000)
    const reply = await command('EVAL', LOAD, 2, listKey, cutoffsKey, `(${now}`)
    const [jtis, members] = Array.isArray(reply) ? (reply as unknown[]) : []
    const next = new Map<string, number>()
    if (Array.isArray(jtis)) {
      for (let i = 0; i + 1 < jtis.length; i += 2) {
        next.set(String(jtis[i]), Number(jtis[i + 1]))
      }
    }
    const nextCutoffs = new Map<string, number>()
    if (Array.isArray(members)) {
      for (const member of members) {
        const entry = parseCutoff(member)
        if (entry !== undefined) addCutoff(nextCutoffs, ...entry)
      }
    }
    revoked = next
    cutoffs = nextCutoffs
    for (const apply of own) apply()
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
    if (typeof jti === 'string' && revoked.has(jti)) return true
    return (
      cutoffs.size > 0 &&
      (issuedBefore(principal, 'sub', principal.subject) ||
        issuedBefore(principal, 'sid', principal.claims.sid) ||
        issuedBefore(principal, 'client', principal.clientId))
    )
  }

  /** Whether a revocation of `kind` `id` covers the principal's token (one without iat: yes). */
  function issuedBefore(principal: Principal, kind: Kind, id: unknown): boolean {
    if (typeof id !== 'string') return false
    const cutoff = cutoffs.get(cutoffKey(kind, principal.issuer, id))
    if (cutoff === undefined) return false
    const iat = principal.claims.iat
    return typeof iat !== 'number' || !Number.isFinite(iat) || iat <= cutoff
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
    // Entries of expired tokens are dropped by whoever revokes next: the list holds only tokens
    // that could still verify.
    await command('EVAL', RECORD, 2, listKey, versionKey, exp, jti, now)
    const apply = (): void => void revoked.set(jti, exp)
    apply()
    ownSinceLoad.push(apply)
  }

  function revokeIssuedBefore(kind: Kind, name: string) {
    return async function portcullisRevokeIssuedBefore(
      issuer: string,
      id: string,
      options?: RevokeIssuedBeforeOptions,
    ): Promise<void> {
      if (typeof issuer !== 'string' || issuer.length === 0) {
        throw new TypeError(`${name}: issuer must be a non-empty string`)
      }
      if (typeof id !== 'string' || id.length === 0) {
        throw new TypeError(`${name}: the ${kind} must be a non-empty string`)
      }
      const now = Math.floor(Date.now() / 1000)
      const before = issuedBeforeOf(options, now)
      const lapses = before + lifetime
      // Every token it would cover has expired already.
      if (lapses <= now) return
      const member = JSON.stringify([kind, issuer, id, before])
      await command('EVAL', RECORD, 2, cutoffsKey, versionKey, lapses, member, now)
      const apply = (): void => addCutoff(cutoffs, kind, issuer, id, before)
      apply()
      ownSinceLoad.push(apply)
    }
  }

  return Object.freeze({
    isRevoked,
    revoke,
    revokeSubject: revokeIssuedBefore('sub', 'revokeSubject'),
    revokeSession: revokeIssuedBefore('sid', 'revokeSession'),
    revokeClient: revokeIssuedBefore('client', 'revokeClient'),
    refresh,
    close() {
      closed = true
      clearTimeout(timer)
    },
  })
}
