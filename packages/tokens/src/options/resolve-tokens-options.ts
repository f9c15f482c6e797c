import { randomBytes } from 'node:crypto'
import { type Principal } from '@portcullis/core'
import { invalidOptionsError } from '@portcullis/core/internal'
import type { JWTVerifyOptions } from 'jose'
import { isSupportedAlgorithm, type SupportedAlgorithm } from '../lib/algorithms.js'
import type { ScopeClaim } from '../lib/principal.js'
import { inspectKey, type InspectedKey } from '../lib/inspect-key.js'
import type { RemoteKeySourceOptions } from '../lib/remote-key-source.js'
import { tokensDefaults, tokensOptionsSchema } from './tokens-options-schema.js'
import type { TokensRedisClient } from './tokens-options.js'
import type { z } from 'zod'

/** One issuer, resolved: what the verifier needs and nothing to re-check per request. */
export interface ResolvedIssuer {
  readonly issuer: string
  readonly algorithms: ReadonlySet<SupportedAlgorithm>
  readonly keys:
    | { readonly kind: 'remote'; readonly options: RemoteKeySourceOptions }
    | { readonly kind: 'static'; readonly keys: readonly InspectedKey[] }
  /** Passed to jose's `jwtVerify` as is. */
  readonly verifyOptions: Readonly<JWTVerifyOptions>
  /** `maxTokenAge` in seconds, when set. */
  readonly maxTokenAge: number | undefined
  /** Whether every token of this issuer must be DPoP-bound and presented with a proof. */
  readonly dpop: 'required' | 'allowed'
  /** The claim the principal's scopes are read from. */
  readonly scopeClaim: ScopeClaim
}

/** The introspection issuer (RFC 7662), resolved. */
export interface ResolvedIntrospection {
  readonly issuer: string
  readonly audiences: readonly string[]
  readonly endpoint: string
  readonly clientId: string
  readonly clientSecret: string
  readonly clientAuth: 'client_secret_basic' | 'client_secret_post'
  /** Milliseconds; `0` when answers are not cached. */
  readonly cacheTtl: number
  /** Milliseconds. */
  readonly timeout: number
}

/** `dpop`, resolved: defaults applied, origins normalised, the nonce key in bytes. */
export interface ResolvedDpopOptions {
  readonly algorithms: readonly string[]
  /** Seconds. */
  readonly maxAge: number
  /** Seconds, `clockTolerance` of the tokens. */
  readonly clockTolerance: number
  readonly maxProofBytes: number
  readonly replay:
    | { readonly kind: 'memory'; readonly max: number }
    | {
        readonly kind: 'redis'
        readonly client: TokensRedisClient
        readonly prefix: string
        readonly timeout: number
      }
  readonly nonce: { readonly secret: Uint8Array; readonly lifetime: number } | undefined
  /** Serialised origins (`https://api.example.com`), when configured. */
  readonly origins: readonly string[] | undefined
}

/** A configuration that is allowed but probably a mistake, to be logged once at startup. */
export interface TokensWarning {
  /** The option concerned, e.g. `tokens.issuers[0].typ`. */
  readonly field: string
  /** What is wrong and how to fix or silence it; never a key or a secret. */
  readonly message: string
}

/** The options with defaults applied, validated and frozen. */
export interface ResolvedTokensOptions {
  /** The JWT issuers. */
  readonly issuers: readonly ResolvedIssuer[]
  /** The issuer of opaque tokens, when one is configured. */
  readonly introspection: ResolvedIntrospection | undefined
  readonly clockTolerance: number
  readonly maxTokenBytes: number
  /** `0` when caching is off. */
  readonly cacheMax: number
  readonly isRevoked: ((principal: Principal) => boolean | Promise<boolean>) | undefined
  /** Milliseconds an async `isRevoked` may take. */
  readonly callbackTimeout: number
  readonly realm: string | undefined
  readonly dpop: ResolvedDpopOptions
  readonly warnings: readonly TokensWarning[]
}

/**
 * Validates `input` and applies the defaults; throws a `PortcullisConfigError`
 * (`PCL_INVALID_OPTIONS`) naming the first bad field, e.g. `tokens.issuers[0].algorithms`.
 */
export function resolveTokensOptions(input: unknown, prefix = 'tokens'): ResolvedTokensOptions {
  const result = tokensOptionsSchema.safeParse(input)
  if (!result.success) {
    throw invalidOptionsError(result.error.issues, prefix, result.error)
  }
  const options = result.data
  const defaults = tokensDefaults.jwks
  const jwks = {
    cooldown: options.jwks?.cooldown ?? defaults.cooldown,
    cacheMaxAge: options.jwks?.cacheMaxAge ?? defaults.cacheMaxAge,
    timeout: options.jwks?.timeout ?? defaults.timeout,
    maxBytes: options.jwks?.maxBytes ?? defaults.maxBytes,
    staleIfError: options.jwks?.staleIfError ?? defaults.staleIfError,
  }
  const clockTolerance = options.clockTolerance ?? tokensDefaults.clockTolerance

  const jwtIssuers = options.issuers.flatMap((issuer) =>
    'introspection' in issuer ? [] : [issuer],
  )
  const introspected = options.issuers.flatMap((issuer) =>
    'introspection' in issuer ? [issuer] : [],
  )[0]
  const issuers = jwtIssuers.map((issuer): ResolvedIssuer => {
    const algorithms = issuer.algorithms.filter(isSupportedAlgorithm)
    // `exp` always: a token without an end is a credential forever (RFC 9068 §2.2). `sub` always:
    // it is the principal's subject.
    const requiredClaims = [...new Set(['exp', 'sub', ...(issuer.requiredClaims ?? [])])]
    const verifyOptions: JWTVerifyOptions = {
      algorithms,
      issuer: issuer.issuer,
      audience: Array.isArray(issuer.audience) ? [...issuer.audience] : issuer.audience,
      clockTolerance,
      requiredClaims,
      ...(typeof issuer.typ === 'string' ? { typ: issuer.typ } : {}),
      ...(issuer.maxTokenAge === undefined ? {} : { maxTokenAge: issuer.maxTokenAge }),
    }
    const keyInputs = issuer.jwks?.keys ?? issuer.keys
    const keys: ResolvedIssuer['keys'] =
      issuer.jwksUri !== undefined
        ? Object.freeze({
            kind: 'remote',
            options: Object.freeze({ url: issuer.jwksUri, ...jwks }),
          })
        : Object.freeze({
            kind: 'static',
            keys: Object.freeze(
              (keyInputs ?? []).map((key) => {
                const inspection = inspectKey(key)
                // The schema refused every key inspectKey refuses.
                if (!inspection.ok) throw new TypeError(inspection.message)
                return inspection.value
              }),
            ),
          })
    return Object.freeze({
      issuer: issuer.issuer,
      algorithms: new Set(algorithms),
      keys,
      verifyOptions: Object.freeze(verifyOptions),
      maxTokenAge: issuer.maxTokenAge,
      dpop: issuer.dpop ?? 'allowed',
      scopeClaim: issuer.scopeClaim ?? 'scope',
    })
  })

  // RFC 8725 §3.11: without an explicit type, a token of another kind the issuer signs for this
  // audience (an OpenID Connect ID token, whose `aud` is the client) passes as an access token.
  const warnings = options.issuers.flatMap((issuer, index): TokensWarning[] =>
    !('introspection' in issuer) && issuer.typ === undefined
      ? [
          Object.freeze({
            field: `${prefix}.issuers[${index}].typ`,
            message:
              `portcullis: ${prefix}.issuers[${index}] (${issuer.issuer}) sets no typ, so any JWT it signs ` +
              `for this audience is accepted, an OpenID Connect ID token included. Set typ to the ` +
              `access-token type it sends ('at+jwt' for RFC 9068), or typ: false to accept any.`,
          }),
        ]
      : [],
  )

  return Object.freeze({
    issuers: Object.freeze(issuers),
    introspection:
      introspected === undefined
        ? undefined
        : Object.freeze({
            issuer: introspected.issuer,
            audiences: Object.freeze(
              Array.isArray(introspected.audience)
                ? [...introspected.audience]
                : [introspected.audience],
            ),
            endpoint: introspected.introspection.endpoint,
            clientId: introspected.introspection.clientId,
            clientSecret: introspected.introspection.clientSecret,
            clientAuth: introspected.introspection.clientAuth ?? 'client_secret_basic',
            cacheTtl:
              options.cache === false
                ? 0
                : (introspected.introspection.cacheTtl ?? tokensDefaults.introspection.cacheTtl),
            timeout: introspected.introspection.timeout ?? tokensDefaults.introspection.timeout,
          }),
    clockTolerance,
    maxTokenBytes: options.maxTokenBytes ?? tokensDefaults.maxTokenBytes,
    cacheMax: options.cache === false ? 0 : (options.cache?.max ?? tokensDefaults.cacheMax),
    isRevoked: options.isRevoked,
    callbackTimeout: options.callbackTimeout ?? tokensDefaults.callbackTimeout,
    realm: options.realm,
    dpop: resolveDpop(options.dpop, clockTolerance),
    warnings: Object.freeze(warnings),
  })
}

/** Resolves `dpop` (validated by the schema) with its defaults; `undefined` gives the defaults. */
export function resolveDpop(
  options: z.output<typeof tokensOptionsSchema>['dpop'],
  clockTolerance: number,
): ResolvedDpopOptions {
  const defaults = tokensDefaults.dpop
  const replay = options?.replay
  const nonce = options?.nonce
  const origin = options?.origin
  return Object.freeze({
    algorithms: Object.freeze([...(options?.algorithms ?? defaults.algorithms)]),
    maxAge: options?.maxAge ?? defaults.maxAge,
    clockTolerance,
    maxProofBytes: options?.maxProofBytes ?? defaults.maxProofBytes,
    replay: Object.freeze(
      replay !== undefined && 'redis' in replay
        ? {
            kind: 'redis' as const,
            client: replay.redis,
            prefix: replay.prefix ?? defaults.redisPrefix,
            timeout: replay.timeout ?? defaults.redisTimeout,
          }
        : { kind: 'memory' as const, max: replay?.max ?? defaults.replayMax },
    ),
    nonce:
      nonce === undefined
        ? undefined
        : Object.freeze({
            secret:
              nonce.secret === undefined
                ? new Uint8Array(randomBytes(32))
                : typeof nonce.secret === 'string'
                  ? new TextEncoder().encode(nonce.secret)
                  : new Uint8Array(nonce.secret),
            lifetime: nonce.lifetime ?? defaults.nonceLifetime,
          }),
    origins:
      origin === undefined
        ? undefined
        : Object.freeze((Array.isArray(origin) ? origin : [origin]).map((o) => new URL(o).origin)),
  })
}
