import { type Duration } from '@portcullis/core'
import { invalidOptionsError } from '@portcullis/core/internal'
import {
  decodeJwt,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyOptions,
  type KeyInput,
} from 'jose'
import { z } from 'zod'
import { JwksFetchError, type KeySource } from '../lib/key-source.js'
import { RemoteKeySource } from '../lib/remote-key-source.js'
import { duration, integer, nonEmptyString, redisClientSchema } from '../lib/schema-parts.js'
import { StaticKeySource } from '../lib/static-key-source.js'
import { resolveTokensOptions } from '../options/resolve-tokens-options.js'
import { tokensOptionsSchema } from '../options/tokens-options-schema.js'
import type { TokensJwksOptions, TokensRedisClient } from '../options/tokens-options.js'
import type { RedisRevocation } from '../revocation/index.js'
import { firstMatchingKey } from '../verifier/create-verifier.js'
import { COMPACT_JWS } from '../verifier/jws.js'
import { revocationsOf, SetEventError, type SetRevocationAction } from './set-events.js'
import {
  memorySetReplayStore,
  redisSetReplayStore,
  setKey,
  type SetReplayStore,
} from './set-replay.js'

/**
 * Where a SET's revocations go: {@link createRedisRevocation}'s list, or anything with the same
 * three methods.
 */
export type SetRevocations = Pick<
  RedisRevocation,
  'revokeSubject' | 'revokeSession' | 'revokeClient'
>

/**
 * Options of {@link createSetReceiver}: the transmitter is declared like an access-token issuer
 * (`issuer`, `audience`, `algorithms`, and one of `jwksUri`, `jwks`, `keys`).
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#security-event-tokens
 */
export interface SetReceiverOptions {
  /** The transmitter's issuer: the `iss` of its SETs. */
  issuer: string
  /** This receiver, as the transmitter addresses it: the `aud` its SETs must carry. */
  audience: string | string[]
  /** Signature algorithms accepted, as for an access-token issuer (e.g. `['ES256']`). */
  algorithms: string[]
  /** The transmitter's JWKS URL (https:, or http: on loopback). */
  jwksUri?: string
  /** The transmitter's keys as a JWKS object. */
  jwks?: JSONWebKeySet
  /** The transmitter's keys. */
  keys?: KeyInput[]
  /** How the JWKS is fetched and cached, as `tokens.jwks`. */
  jwksFetch?: TokensJwksOptions
  /** Where the revocations go: usually the app's `createRedisRevocation(...)`. */
  revocation: SetRevocations
  /**
   * The access-token issuer that subject identifiers of format `opaque` belong to. Default:
   * `issuer` (the identity provider transmits about its own tokens). `iss_sub` names its own.
   */
  subjectIssuer?: string
  /** Seconds of clock skew allowed on `iat`, `exp` and `maxAge`. Default 5, at most 300. */
  clockTolerance?: number
  /**
   * How old a SET may be (since its `iat`): older ones are refused as expired. It is also how
   * long `jti`s are remembered to refuse replays. Default `'1 day'` (a polled transmitter may hold
   * events for a while), from 1 s to 7 days.
   */
  maxAge?: Duration
  /** Longest SET accepted, in bytes. Default 16384. */
  maxSetBytes?: number
  /**
   * Where the `jti`s of received SETs are remembered: in memory (default, `max` 10000 SETs), or
   * in Redis so that a SET pushed to one instance cannot be replayed to another.
   */
  replay?: { max?: number } | { redis: TokensRedisClient; prefix?: string; timeout?: Duration }
}

/** The RFC 8935 §2.3 error codes a receiver answers with. */
export type SetErrorCode =
  | 'invalid_request'
  | 'invalid_key'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'authentication_failed'

/** What became of one SET. Nothing was changed unless `status` is 202. */
export type SetOutcome =
  | {
      readonly status: 202
      readonly jti: string
      /** The revocations applied (none for a SET whose events are all of other types). */
      readonly revocations: readonly SetRevocationAction[]
    }
  | {
      readonly status: 400
      readonly err: SetErrorCode
      /** Why, for the transmitter; never the SET or a claim value. */
      readonly description: string
      /** Set when the SET was refused because its `jti` was received before. */
      readonly replayed?: true
    }
  | {
      /** The receiver could not decide (keys unreachable, Redis down): the transmitter retries. */
      readonly status: 503
      readonly description: string
    }

/** An HTTP answer to a pushed SET (RFC 8935 §2.2, §2.3). */
export interface SetPushAnswer {
  readonly status: 202 | 400 | 503
  readonly headers: Readonly<Record<string, string>>
  /** JSON `{ "err": ..., "description": ... }` for a 400, else empty. */
  readonly body: string
}

/**
 * Receives Security Event Tokens (RFC 8417): verifies each, refuses replays, and turns CAEP and
 * RISC events into revocations.
 */
export interface SetReceiver {
  /** Verifies and applies one SET (a compact JWS). Never throws. */
  receive(set: unknown): Promise<SetOutcome>
  /**
   * Handles a pushed request body (RFC 8935): `application/secevent+jwt`, the SET as text or
   * bytes. The Fastify plugin and the Node handler only call this.
   */
  push(body: unknown, contentType: string | undefined): Promise<SetPushAnswer>
  /** The largest body `push` accepts, for the adapters' body limits. */
  readonly maxSetBytes: number
}

const defaults = Object.freeze({
  maxAge: 86_400_000,
  maxSetBytes: 16_384,
  replayMax: 10_000,
  redisPrefix: 'portcullis:set:',
  redisTimeout: 250,
})

const optionsSchema = z.strictObject(
  {
    // Validated as a one-issuer `tokens` option (resolveTransmitter).
    issuer: z.unknown().optional(),
    audience: z.unknown().optional(),
    algorithms: z.unknown().optional(),
    jwksUri: z.unknown().optional(),
    jwks: z.unknown().optional(),
    keys: z.unknown().optional(),
    jwksFetch: z.unknown().optional(),
    clockTolerance: z.unknown().optional(),
    revocation: z.custom<SetRevocations>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        ['revokeSubject', 'revokeSession', 'revokeClient'].every(
          (name) => typeof (value as Record<string, unknown>)[name] === 'function',
        ),
      { error: 'must have revokeSubject, revokeSession and revokeClient (createRedisRevocation)' },
    ),
    subjectIssuer: nonEmptyString.optional(),
    maxAge: duration('ms', 1000, 7 * 86_400_000).optional(),
    maxSetBytes: integer(256, 1_048_576).optional(),
    replay: z
      .union(
        [
          z.strictObject({
            redis: redisClientSchema,
            prefix: nonEmptyString.max(200).optional(),
            timeout: duration('ms', 1, 60_000).optional(),
          }),
          z.strictObject({ max: integer(1, 10_000_000).optional() }),
        ],
        { error: 'must be { max? } or { redis, prefix?, timeout? }' },
      )
      .optional(),
  },
  { error: 'must be an object' },
)

const OWN = ['revocation', 'subjectIssuer', 'maxAge', 'maxSetBytes', 'replay', 'jwksFetch']

/** The transmitter, validated as a one-issuer `tokens` option; issues name this call's fields. */
function resolveTransmitter(options: Record<string, unknown>) {
  const issuer = Object.fromEntries(
    Object.entries(options).filter(([key]) => !OWN.includes(key) && key !== 'clockTolerance'),
  )
  const input = {
    issuers: [{ ...issuer, typ: false }],
    ...(options.jwksFetch === undefined ? {} : { jwks: options.jwksFetch }),
    ...(options.clockTolerance === undefined ? {} : { clockTolerance: options.clockTolerance }),
  }
  const parsed = tokensOptionsSchema.safeParse(input)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => {
      const [head, , ...rest] = issue.path
      const path =
        head === 'issuers'
          ? rest
          : head === 'jwks'
            ? ['jwksFetch', ...issue.path.slice(1)]
            : issue.path
      return { ...issue, path }
    })
    throw invalidOptionsError(issues, 'createSetReceiver', parsed.error)
  }
  const resolved = resolveTokensOptions(input, 'createSetReceiver')
  const [transmitter] = resolved.issuers
  if (transmitter === undefined) throw new TypeError('createSetReceiver: no transmitter')
  return { transmitter, clockTolerance: resolved.clockTolerance }
}

const refuse = (err: SetErrorCode, description: string): SetOutcome =>
  Object.freeze({ status: 400, err, description })

const unavailable = (description: string): SetOutcome => Object.freeze({ status: 503, description })

/** jose's verdict, in RFC 8935 terms. The messages never carry the SET or a claim value. */
function outcomeOfError(err: unknown): SetOutcome {
  if (err instanceof JwksFetchError || err instanceof errors.JWKSTimeout) {
    return unavailable('the transmitter keys cannot be fetched')
  }
  if (err instanceof errors.JWTExpired)
    return refuse('invalid_request', 'SET expired (exp or maxAge)')
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return refuse('invalid_issuer', 'SET issuer is not the transmitter')
    if (err.claim === 'aud')
      return refuse('invalid_audience', 'SET is not addressed to this receiver')
    return refuse('invalid_request', `SET claim check failed: ${err.claim} (${err.reason})`)
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return refuse('authentication_failed', 'SET signature verification failed')
  }
  if (
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWKSMultipleMatchingKeys ||
    err instanceof errors.JOSEAlgNotAllowed ||
    err instanceof errors.JWKInvalid
  ) {
    return refuse('invalid_key', 'no transmitter key or algorithm accepted for this SET')
  }
  return refuse('invalid_request', 'not a valid SET (compact JWS, RFC 8417)')
}

const audiences = (aud: unknown): string[] =>
  typeof aud === 'string'
    ? [aud]
    : Array.isArray(aud)
      ? aud.filter((a) => typeof a === 'string')
      : []

/**
 * Creates a Security Event Token receiver (RFC 8417, RFC 8935 push, RFC 8936 poll). Verifies each
 * SET with jose against the transmitter's keys (`typ` `secevent+jwt`, issuer, audience,
 * algorithms), refuses replays by `jti`, and applies CAEP `session-revoked`, `credential-change`
 * and RISC `account-disabled`, `sessions-revoked` as revocations by session or subject.
 *
 * @example
 * ```ts
 * const receiver = createSetReceiver({
 *   issuer: 'https://idp.internal', audience: 'https://videos.internal', algorithms: ['ES256'],
 *   jwksUri: 'https://idp.internal/jwks', revocation, replay: { redis },
 * })
 * await app.register(setPushPlugin, { receiver, url: '/ssf/events', guard: { callers: ['idp'] } })
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#security-event-tokens
 */
export function createSetReceiver(options: SetReceiverOptions): SetReceiver {
  const parsed = optionsSchema.safeParse(options)
  if (!parsed.success) {
    throw invalidOptionsError(parsed.error.issues, 'createSetReceiver', parsed.error)
  }
  const { transmitter, clockTolerance } = resolveTransmitter(options as never)
  const { revocation } = parsed.data
  const subjectIssuer = parsed.data.subjectIssuer ?? transmitter.issuer
  const maxAge = Math.ceil((parsed.data.maxAge ?? defaults.maxAge) / 1000)
  const maxSetBytes = parsed.data.maxSetBytes ?? defaults.maxSetBytes
  const replayOption = parsed.data.replay
  const replay: SetReplayStore =
    replayOption !== undefined && 'redis' in replayOption
      ? redisSetReplayStore(
          replayOption.redis,
          replayOption.prefix ?? defaults.redisPrefix,
          replayOption.timeout ?? defaults.redisTimeout,
        )
      : memorySetReplayStore(replayOption?.max ?? defaults.replayMax)
  const source: KeySource =
    transmitter.keys.kind === 'remote'
      ? new RemoteKeySource(transmitter.keys.options)
      : new StaticKeySource(transmitter.keys.keys)
  const getKey = (header: Parameters<KeySource['getKey']>[0]) => source.getKey(header)
  const accepted = new Set(audiences(transmitter.verifyOptions.audience))
  // RFC 8417 §2.3: `typ` distinguishes a SET from any other JWT the transmitter signs (an ID
  // token or an access token for the same audience would otherwise pass as a SET).
  const verifyOptions: JWTVerifyOptions = Object.freeze({
    algorithms: [...transmitter.algorithms],
    issuer: transmitter.issuer,
    audience: [...accepted],
    clockTolerance,
    typ: 'secevent+jwt',
    maxTokenAge: maxAge,
    requiredClaims: ['iat', 'jti', 'events'],
  })

  async function verify(set: string): Promise<JWTPayload> {
    try {
      return (await jwtVerify(set, getKey, verifyOptions)).payload
    } catch (err) {
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err
      return firstMatchingKey(
        err,
        async (key) => (await jwtVerify(set, key, verifyOptions)).payload,
      )
    }
  }

  async function apply(actions: readonly SetRevocationAction[]): Promise<void> {
    await Promise.all(
      actions.map(({ kind, issuer, id, issuedBefore }) => {
        const options = { issuedBefore }
        if (kind === 'session') return revocation.revokeSession(issuer, id, options)
        if (kind === 'client') return revocation.revokeClient(issuer, id, options)
        return revocation.revokeSubject(issuer, id, options)
      }),
    )
  }

  async function receive(set: unknown): Promise<SetOutcome> {
    if (typeof set !== 'string' || !COMPACT_JWS.test(set)) {
      return refuse('invalid_request', 'not a SET: a signed JWT (compact JWS) is expected')
    }
    if (set.length > maxSetBytes) {
      return refuse('invalid_request', `SET longer than maxSetBytes (${maxSetBytes})`)
    }
    // The addressing first, from the unverified claims, so that the answer says which is wrong;
    // the verification checks both again.
    let unverified: JWTPayload
    try {
      unverified = decodeJwt(set)
    } catch (err) {
      return outcomeOfError(err)
    }
    if (unverified.iss !== transmitter.issuer) {
      return refuse('invalid_issuer', 'SET issuer is not the transmitter')
    }
    if (!audiences(unverified.aud).some((aud) => accepted.has(aud))) {
      return refuse('invalid_audience', 'SET is not addressed to this receiver')
    }
    let claims: JWTPayload
    try {
      claims = await verify(set)
    } catch (err) {
      return outcomeOfError(err)
    }
    const { jti, iat } = claims
    if (typeof jti !== 'string' || jti.length === 0 || typeof iat !== 'number') {
      return refuse('invalid_request', 'SET must carry jti and iat (RFC 8417 §2.2)')
    }
    const now = Math.floor(Date.now() / 1000)
    let actions: SetRevocationAction[]
    try {
      actions = revocationsOf(claims, subjectIssuer, now)
    } catch (err) {
      if (err instanceof SetEventError) return refuse('invalid_request', err.message)
      throw err
    }
    // Claimed before anything is applied, so that two deliveries of one SET never both apply;
    // released when applying fails, so that the transmitter's retry is not taken for a replay.
    const key = setKey(transmitter.issuer, jti)
    const ttl = (iat + maxAge + clockTolerance) * 1000 - Date.now()
    let fresh: boolean
    try {
      fresh = await replay.claim(key, ttl, iat)
    } catch {
      return unavailable('the replay store is unavailable')
    }
    if (!fresh) {
      return Object.freeze({
        status: 400,
        err: 'invalid_request',
        description: 'SET already received (jti)',
        replayed: true,
      })
    }
    try {
      await apply(actions)
    } catch {
      await replay.release(key).catch(() => undefined)
      return unavailable('the revocation could not be recorded')
    }
    return Object.freeze({ status: 202, jti, revocations: Object.freeze(actions) })
  }

  async function push(body: unknown, contentType: string | undefined): Promise<SetPushAnswer> {
    // RFC 8935 §2: the SET is the whole body, `application/secevent+jwt`.
    const type = contentType?.split(';')[0]?.trim().toLowerCase()
    const outcome =
      type !== 'application/secevent+jwt'
        ? refuse('invalid_request', 'Content-Type must be application/secevent+jwt')
        : await receive(
            Buffer.isBuffer(body)
              ? body.toString('utf8').trim()
              : typeof body === 'string'
                ? body.trim()
                : body,
          )
    return answerOf(outcome)
  }

  return Object.freeze({ receive, push, maxSetBytes })
}

/** The HTTP answer to a SET's outcome: 202 empty, 400 `{ err, description }`, 503 empty. */
export function answerOf(outcome: SetOutcome): SetPushAnswer {
  if (outcome.status === 400) {
    return Object.freeze({
      status: 400,
      headers: Object.freeze({ 'content-type': 'application/json', 'cache-control': 'no-store' }),
      body: JSON.stringify({ err: outcome.err, description: outcome.description }),
    })
  }
  return Object.freeze({
    status: outcome.status,
    headers: Object.freeze(outcome.status === 503 ? { 'retry-after': '5' } : {}),
    body: '',
  })
}
