import { closestName, durationIn } from '@portcullis/core/internal'
import { z } from 'zod'

const reason = z
  .string({ error: 'must be a string giving the reason this route needs no token' })
  .trim()
  .min(1, { error: 'must be a non-empty reason (it shows in the route inventory)' })
  .max(500, { error: 'must be at most 500 characters' })

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). Guards are held to it, so a
// lookalike character (a Cyrillic 'е', a non-breaking space) cannot hide in a declared scope:
// scopes are compared exactly, with no case folding or Unicode normalisation.
const scopeToken = z
  .string({ error: 'must be a scope string' })
  .regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/u, {
    error:
      'must be a scope token: printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)',
  })
const scopeList = z.array(scopeToken).min(1, { error: 'must list at least one scope' })

const scopes = z.union(
  [
    scopeToken,
    scopeList,
    z
      .object({ allOf: scopeList.optional(), anyOf: scopeList.optional() })
      .strict()
      .refine((v) => v.allOf !== undefined || v.anyOf !== undefined, {
        error: 'needs allOf or anyOf',
      }),
  ],
  { error: 'must be a scope, a list of scopes (all required), or { allOf, anyOf }' },
)

const scalar = z.union([z.string(), z.number(), z.boolean()], {
  error: 'must be a string, number or boolean',
})
const name = z.string().min(1, { error: 'must be a non-empty name' })
// A URL value is text: a claim matches it as a string, and a number claim only when the guard
// opts in, so that `sub: 42` and `sub: '42'` (two different subjects to an issuer that mints
// both) are never the same caller by accident.
const numeric = z.literal(true, { error: 'must be `true` when present' }).optional()

const claimMatcher = z.union(
  [
    scalar,
    z.object({ oneOf: z.array(scalar).min(1, { error: 'must list at least one value' }) }).strict(),
    z.object({ contains: scalar }).strict(),
    z.object({ param: name, numeric }).strict(),
    z.object({ query: name, numeric }).strict(),
  ],
  {
    error:
      'must be a value, { oneOf: [...] }, { contains: value }, { param: name, numeric? } or { query: name, numeric? }',
  },
)

// RFC 9470 §3: acr values travel in the challenge's quoted `acr_values`, space-separated, so
// each is held to the characters of a scope token (printable ASCII, no space, quote, backslash).
const acrList = z
  .array(
    z.string({ error: 'must be an acr value string' }).regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/u, {
      error:
        'must be printable ASCII without spaces, quotes or backslashes (RFC 9470 §3 acr_values)',
    }),
    { error: 'must be an array of acr values' },
  )
  .min(1, { error: 'must list at least one acr value' })

// Seconds, as `max_age` (RFC 9470 §3, OpenID Connect Core §3.1.2.1) counts them; at most a year.
const maxAuthAge = z.custom<number | string>().transform((value, ctx): number => {
  const seconds = durationIn(value, 's', { min: 1, max: 31_557_600 })
  if (typeof seconds === 'string') {
    ctx.addIssue({ code: 'custom', message: seconds })
    return z.NEVER
  }
  return seconds
})

// The keys of the objects inside a guard, by where they sit, for "did you mean" suggestions.
const SCOPE_FORM_KEYS = ['allOf', 'anyOf']
const CLAIM_RULE_KEYS = ['oneOf', 'contains', 'param', 'query', 'numeric']

function knownKeysAt(path: readonly PropertyKey[]): readonly string[] {
  if (path.length === 0) return GUARD_KEYS
  if (path.length === 1 && path[0] === 'scopes') return SCOPE_FORM_KEYS
  if (path.length === 2 && path[0] === 'claims') return CLAIM_RULE_KEYS
  return []
}

/**
 * What to say of an unknown key of a guard: the known key it most likely misspells, or the
 * known keys when none is close (`scopez` → `did you mean 'scopes'?`).
 */
export function unknownKeyHint(key: string, path: readonly PropertyKey[]): string {
  const known = knownKeysAt(path)
  if (known.length === 0) return ''
  const near = closestName(key, known)
  return near === undefined ? `known keys: ${known.join(', ')}` : `did you mean '${near}'?`
}

/**
 * The zod schema of `config.guard`. Unknown keys are refused: a misspelled requirement must
 * never be read as "no requirement".
 */
export const routeGuardSchema = z
  .object(
    {
      public: reason.optional(),
      authenticated: z.literal(true, { error: 'must be `true` when present' }).optional(),
      scopes: scopes.optional(),
      callers: z
        .array(z.string().min(1, { error: 'must be a non-empty client id' }))
        .min(1, { error: 'must list at least one caller' })
        .optional(),
      claims: z
        .record(z.string().min(1), claimMatcher)
        .refine((v) => Object.keys(v).length > 0, { error: 'must hold at least one claim rule' })
        .optional(),
      acr: acrList.optional(),
      maxAuthAge: maxAuthAge.optional(),
      check: z
        .custom<(...args: never[]) => unknown>((v) => typeof v === 'function', {
          error: 'must be a function (principal, request) => boolean | Promise<boolean>',
        })
        .optional(),
      extends: name.optional(),
      reportOnly: z.boolean({ error: 'must be a boolean' }).optional(),
      // Owned by the rate-limit and allowlist plugins, which validate them in their own onRoute
      // hooks; a route that declares one without its plugin registered fails startup.
      rateLimit: z.unknown().optional(),
      budget: z.unknown().optional(),
      enumeration: z.unknown().optional(),
      // Read by the tokens plugin (RFC 6750 §2.3 query tokens); not a requirement.
      queryToken: z.literal(true, { error: 'must be `true` when present' }).optional(),
      // Read by the tokens plugin (RFC 9449 DPoP-only route); not a requirement either.
      dpop: z.literal(true, { error: 'must be `true` when present' }).optional(),
      response: z.unknown().optional(),
      body: z.unknown().optional(),
    },
    {
      error: (issue) => {
        if (issue.code !== 'unrecognized_keys') return 'must be an object (a route guard)'
        return issue.keys
          .map((key) => `unknown guard key '${key}' (${unknownKeyHint(key, [])})`)
          .join('; ')
      },
    },
  )
  .strict()

const GUARD_KEYS: readonly string[] = Object.keys(routeGuardSchema.shape)

/** A guard as validated by {@link routeGuardSchema}. */
export type ParsedRouteGuard = z.infer<typeof routeGuardSchema>

/** A claim rule as validated. */
export type ParsedClaimMatcher = z.infer<typeof claimMatcher>
