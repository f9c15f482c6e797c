import type { Principal } from '@portcullis/core'
import type { KeyInput } from 'jose'
import { z } from 'zod'
import {
  familiesFor,
  isSupportedAlgorithm,
  isSymmetricAlgorithm,
  supportedAlgorithms,
  type SupportedAlgorithm,
} from '../lib/algorithms.js'
import {
  duration,
  httpsUrl,
  integer,
  nonEmptyString,
  redisClientSchema,
} from '../lib/schema-parts.js'
import { inspectKey, keyCanVerify, keyWeakness, type InspectedKey } from '../lib/inspect-key.js'

/** Defaults of every optional setting, documented on `TokensOptions`. */
export const tokensDefaults = Object.freeze({
  clockTolerance: 5,
  maxTokenBytes: 8192,
  callbackTimeout: 1000,
  cacheMax: 10_000,
  jwks: Object.freeze({
    cooldown: 30_000,
    cacheMaxAge: 600_000,
    timeout: 5_000,
    maxBytes: 256 * 1024,
    staleIfError: 3_600_000,
  }),
  introspection: Object.freeze({ cacheTtl: 60_000, timeout: 5_000, maxBytes: 64 * 1024 }),
  dpop: Object.freeze({
    // Every asymmetric algorithm, elliptic curves first: the smallest proofs and the cheapest
    // signature checks.
    algorithms: Object.freeze(
      supportedAlgorithms
        .filter((alg) => !isSymmetricAlgorithm(alg))
        .sort((a, b) => Number(/^[RP]S/.test(a)) - Number(/^[RP]S/.test(b))),
    ),
    maxAge: 60,
    maxProofBytes: 4096,
    replayMax: 100_000,
    redisPrefix: 'portcullis:dpop:',
    redisTimeout: 250,
    nonceLifetime: 300,
  }),
})

// One pass over an algorithm list: `none` in any spelling, unknown and repeated names, and the
// family rule of the list (`rule`), each reported at its index.
function algorithmList(
  rule: (algorithms: string[], ctx: z.RefinementCtx) => void,
): z.ZodType<string[], string[]> {
  return z
    .array(z.string({ error: 'must be a string' }), { error: 'must be an array of algorithms' })
    .min(1, 'must list at least one algorithm: there is no default (RFC 8725 §3.1)')
    .superRefine((algorithms, ctx) => {
      const seen = new Set<string>()
      algorithms.forEach((alg, index) => {
        if (alg.toLowerCase() === 'none') {
          ctx.addIssue({
            code: 'custom',
            path: [index],
            message: '"none" is never accepted: an unsecured JWT proves nothing (RFC 8725 §3.1)',
          })
        } else if (!isSupportedAlgorithm(alg)) {
          ctx.addIssue({
            code: 'custom',
            path: [index],
            message: `unsupported algorithm; use one of ${supportedAlgorithms.join(', ')}`,
          })
        } else if (seen.has(alg)) {
          ctx.addIssue({ code: 'custom', path: [index], message: 'is listed twice' })
        }
        seen.add(alg)
      })
      rule(algorithms, ctx)
    })
}

const algorithmsSchema = algorithmList((algorithms, ctx) => {
  const symmetric = algorithms.filter(isSymmetricAlgorithm).length
  if (symmetric > 0 && symmetric < algorithms.length) {
    // RFC 8725 §2.1: an issuer accepting both kinds invites HMAC-with-a-public-key forgeries.
    ctx.addIssue({
      code: 'custom',
      message: 'must not mix HMAC (HS*) and asymmetric algorithms in one issuer (RFC 8725 §2.1)',
    })
  }
})

// RFC 9449 §4.2: a proof is signed with the client's private key, never a shared secret.
const proofAlgorithmsSchema = algorithmList((algorithms, ctx) => {
  algorithms.forEach((alg, index) => {
    if (isSymmetricAlgorithm(alg)) {
      ctx.addIssue({
        code: 'custom',
        path: [index],
        message: 'must be asymmetric: DPoP proofs are never signed with a secret (RFC 9449 §4.2)',
      })
    }
  })
})

const jwksUriSchema = httpsUrl()

const keySchema = z.custom<KeyInput>(() => true)

const audienceSchema = z.union(
  [nonEmptyString, z.array(nonEmptyString).min(1, 'must not be empty')],
  {
    error: 'must be a non-empty string or a non-empty array of strings',
  },
)

const introspectionSchema = z.strictObject(
  {
    // Same rule as a JWKS URL: a token sent in clear text to a non-loopback host is given away.
    endpoint: jwksUriSchema,
    clientId: nonEmptyString,
    clientSecret: nonEmptyString,
    clientAuth: z
      .enum(['client_secret_basic', 'client_secret_post'], {
        error: 'must be "client_secret_basic" or "client_secret_post"',
      })
      .optional(),
    cacheTtl: duration('ms', 0, 86_400_000).optional(),
    timeout: duration('ms', 100, 60_000).optional(),
  },
  { error: 'must be an object { endpoint, clientId, clientSecret, ... }' },
)

/** One issuer of opaque tokens (`TokensIntrospectionIssuerOptions`). */
export const introspectionIssuerSchema = z.strictObject({
  issuer: nonEmptyString,
  audience: audienceSchema,
  introspection: introspectionSchema,
})

/** One JWT issuer (`TokensIssuerOptions`). */
export const issuerSchema = z
  .strictObject({
    issuer: nonEmptyString,
    audience: audienceSchema,
    algorithms: algorithmsSchema,
    jwksUri: jwksUriSchema.optional(),
    jwks: z
      // RFC 7517 §5: unknown members of a JWK Set are ignored, so they are allowed here.
      .looseObject(
        { keys: z.array(keySchema, { error: 'must be an array' }).min(1, 'must not be empty') },
        { error: 'must be a JWKS object { keys: [...] }' },
      )
      .optional(),
    keys: z.array(keySchema, { error: 'must be an array' }).min(1, 'must not be empty').optional(),
    typ: z
      .union([nonEmptyString, z.literal(false)], {
        error: 'must be a non-empty string (e.g. "at+jwt") or false',
      })
      .optional(),
    requiredClaims: z
      .array(nonEmptyString, { error: 'must be an array of claim names' })
      .optional(),
    scopeClaim: z
      .enum(['scope', 'scp'], {
        error:
          'must be "scope" (RFC 9068: a space-delimited string) or "scp" (an array of strings, or a space-delimited string)',
      })
      .optional(),
    dpop: z.enum(['required', 'allowed'], { error: 'must be "required" or "allowed"' }).optional(),
    maxTokenAge: duration('s', 1).optional(),
  })
  .superRefine((issuer, ctx) => {
    const sources = (['jwksUri', 'jwks', 'keys'] as const).filter(
      (name) => issuer[name] !== undefined,
    )
    if (sources.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          sources.length === 0
            ? 'needs keys: exactly one of jwksUri, jwks or keys'
            : `must have exactly one of jwksUri, jwks or keys, not ${sources.join(' and ')}`,
      })
      return
    }
    const algorithms = issuer.algorithms.filter(isSupportedAlgorithm)
    if (issuer.jwksUri !== undefined) {
      if (algorithms.some(isSymmetricAlgorithm)) {
        ctx.addIssue({
          code: 'custom',
          path: ['algorithms'],
          message: 'HMAC (HS*) cannot be used with jwksUri: a published JWKS holds public keys',
        })
      }
      return
    }
    const [field, keys] =
      issuer.jwks !== undefined
        ? (['jwks', issuer.jwks.keys] as const)
        : (['keys', issuer.keys ?? []] as const)
    keys.forEach((key, index) => {
      const path = field === 'jwks' ? ['jwks', 'keys', index] : ['keys', index]
      const problem = keyProblem(key, algorithms)
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path, message: problem })
    })
  })

// An issuer with `introspection` is an issuer of opaque tokens; any other is a JWT issuer. Each
// is validated by its own schema, so errors name the field (a union would only say "invalid").
const issuerEntrySchema = z
  .custom<unknown>()
  .transform(
    (value, ctx): z.output<typeof issuerSchema> | z.output<typeof introspectionIssuerSchema> => {
      const introspected =
        typeof value === 'object' && value !== null && Object.hasOwn(value, 'introspection')
      const result = introspected
        ? introspectionIssuerSchema.safeParse(value)
        : issuerSchema.safeParse(value)
      if (result.success) return result.data
      // Forwarded as they are (an unknown key keeps its `keys`), under this entry's path.
      for (const issue of result.error.issues)
        ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0])
      return z.NEVER
    },
  )

/** Why `input` cannot serve an issuer accepting `algorithms`, or `undefined` when it can. */
function keyProblem(input: unknown, algorithms: readonly SupportedAlgorithm[]): string | undefined {
  const inspection = inspectKey(input)
  if (!inspection.ok) return inspection.message
  const key: InspectedKey = inspection.value
  if (algorithms.length === 0) return undefined
  const symmetricAlgorithms = algorithms.every(isSymmetricAlgorithm)
  // RFC 8725 §2.1 / §3.1: a key is used with one kind of algorithm only.
  if (key.symmetric && !symmetricAlgorithms) {
    return 'is a secret, but algorithms are asymmetric: HMAC keys only verify HS*'
  }
  if (!key.symmetric && symmetricAlgorithms) {
    return 'is an asymmetric key, but algorithms are HMAC (HS*): use a secret'
  }
  const family = key.family
  if (family === undefined || !algorithms.some((alg) => familiesFor(alg).includes(family))) {
    return `cannot verify any of ${algorithms.join(', ')}`
  }
  const usable = algorithms.filter((alg) => keyCanVerify(key, alg))
  if (usable.length === 0) return 'is bound to an algorithm ("alg") that is not in algorithms'
  for (const alg of usable) {
    const weakness = keyWeakness(key, alg)
    if (weakness !== undefined) return weakness
  }
  return undefined
}

const jwksSchema = z.strictObject(
  {
    cooldown: duration('ms', 1000, 3_600_000).optional(),
    cacheMaxAge: duration('ms', 1000, 86_400_000).optional(),
    timeout: duration('ms', 100, 60_000).optional(),
    maxBytes: integer(1024, 4 * 1024 * 1024).optional(),
    staleIfError: duration('ms', 0, 604_800_000).optional(),
  },
  { error: 'must be an object' },
)

const replaySchema = z.union(
  [
    z.strictObject({ max: integer(1000, 10_000_000) }),
    z.strictObject({
      redis: redisClientSchema,
      prefix: nonEmptyString.max(200, 'must be at most 200 characters').optional(),
      timeout: duration('ms', 1, 60_000).optional(),
    }),
  ],
  { error: 'must be { max } or { redis, prefix?, timeout? }' },
)

const secretSchema = z
  .union([z.string(), z.custom<Uint8Array>((value) => value instanceof Uint8Array)], {
    error: 'must be a string or a Uint8Array',
  })
  .refine(
    (secret) => (typeof secret === 'string' ? Buffer.byteLength(secret) : secret.byteLength) >= 32,
    'must be at least 32 bytes',
  )

const originSchema = z.string({ error: 'must be an origin string' }).superRefine((value, ctx) => {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  const bare =
    url !== undefined &&
    (url.protocol === 'https:' || url.protocol === 'http:') &&
    url.username === '' &&
    url.password === '' &&
    url.pathname === '/' &&
    url.search === '' &&
    url.hash === '' &&
    !value.endsWith('?') &&
    !value.endsWith('#')
  if (!bare) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an origin: http(s)://host[:port], without path, query or credentials',
    })
  }
})

const dpopSchema = z.strictObject(
  {
    algorithms: proofAlgorithmsSchema.optional(),
    maxAge: duration('s', 1, 600).optional(),
    maxProofBytes: integer(512, 16_384).optional(),
    replay: replaySchema.optional(),
    nonce: z
      .strictObject(
        { secret: secretSchema.optional(), lifetime: duration('s', 10, 86_400).optional() },
        { error: 'must be an object { secret?, lifetime? }' },
      )
      .optional(),
    origin: z
      .union([originSchema, z.array(originSchema).min(1, 'must not be empty')], {
        error: 'must be an origin or a non-empty array of origins',
      })
      .optional(),
  },
  { error: 'must be an object' },
)

/**
 * The zod schema of `TokensOptions`: unknown keys refused, every bound and cross-field rule
 * (one key source per issuer, no `none`, no HMAC with asymmetric keys, key `alg`/`use`, unique
 * issuers) checked. Embed it to validate `tokens` inside a larger options object.
 *
 * @example
 * ```ts
 * const result = tokensOptionsSchema.safeParse(options)
 * if (!result.success) console.error(result.error.issues)
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#options
 */
export const tokensOptionsSchema = z.strictObject(
  {
    issuers: z
      .array(issuerEntrySchema, { error: 'must be an array of issuers' })
      .min(1, 'must list at least one issuer')
      .superRefine((issuers, ctx) => {
        const seen = new Set<string>()
        let introspected = 0
        issuers.forEach((issuer, index) => {
          if (seen.has(issuer.issuer)) {
            ctx.addIssue({ code: 'custom', path: [index, 'issuer'], message: 'is listed twice' })
          }
          seen.add(issuer.issuer)
          if ('introspection' in issuer && ++introspected > 1) {
            // An opaque token names no issuer: with two endpoints, which one to ask is a guess.
            ctx.addIssue({
              code: 'custom',
              path: [index, 'introspection'],
              message:
                'is the second introspection issuer: at most one issuer may use introspection',
            })
          }
        })
      }),
    clockTolerance: duration('s', 0, 300).optional(),
    maxTokenBytes: integer(256, 65_536).optional(),
    cache: z
      .union([z.literal(false), z.strictObject({ max: integer(1, 1_000_000) })], {
        error: 'must be { max: number } or false',
      })
      .optional(),
    jwks: jwksSchema.optional(),
    isRevoked: z
      .custom<(principal: Principal) => boolean | Promise<boolean>>(
        (value) => typeof value === 'function',
        { error: 'must be a function' },
      )
      .optional(),
    callbackTimeout: duration('ms', 1, 60_000).optional(),
    realm: nonEmptyString.optional(),
    dpop: dpopSchema.optional(),
  },
  { error: 'must be an object' },
)
