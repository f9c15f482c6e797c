import { PortcullisConfigError, type GuardRequest, type Principal } from '@portcullis/core'
import type { ParsedClaimMatcher, ParsedRouteGuard } from './guard-schema.js'

/** A guard's `check` function. */
export type GuardCheck = (principal: Principal, request: GuardRequest) => unknown

/**
 * A guard in one canonical form, so that `extends` and prefix defaults can be merged and
 * compared: scopes as one all-of list plus any-of groups, checks as a list.
 */
export interface NormalizedGuard {
  readonly public: string | null
  readonly authenticated: boolean
  /** Every one of these scopes is required. */
  readonly allOf: readonly string[]
  /** From each group, at least one scope is required. */
  readonly anyOf: readonly (readonly string[])[]
  readonly callers: readonly string[] | null
  readonly claims: Readonly<Record<string, ParsedClaimMatcher>>
  /** Step-up (RFC 9470): the token's `acr` must be one of these; `null` when not required. */
  readonly acr: readonly string[] | null
  /** Step-up (RFC 9470): largest age of `auth_time`, in seconds; `null` when not required. */
  readonly maxAuthAge: number | null
  readonly checks: readonly GuardCheck[]
  readonly reportOnly: boolean | undefined
  /** `guard.rateLimit` as declared (validated by the rate-limit plugin), or `undefined`. */
  readonly rateLimit: unknown
  /** `guard.budget` and `guard.enumeration` as declared (validated by the rate-limit plugin). */
  readonly budget: unknown
  readonly enumeration: unknown
  /** `guard.response` as declared (validated by the allowlist plugin), or `undefined`. */
  readonly response: unknown
  /** `guard.body` as declared (validated by the allowlist plugin), or `undefined`. */
  readonly body: unknown
}

/** Brings a validated guard to its canonical form. */
export function normalizeGuard(guard: ParsedRouteGuard): NormalizedGuard {
  const { scopes } = guard
  let allOf: string[] = []
  let anyOf: string[][] = []
  if (typeof scopes === 'string') allOf = [scopes]
  else if (Array.isArray(scopes)) allOf = [...scopes]
  else if (scopes !== undefined) {
    allOf = [...(scopes.allOf ?? [])]
    anyOf = scopes.anyOf === undefined ? [] : [[...scopes.anyOf]]
  }
  return {
    public: guard.public ?? null,
    authenticated: guard.authenticated === true,
    allOf: [...new Set(allOf)],
    anyOf,
    callers: guard.callers === undefined ? null : [...new Set(guard.callers)],
    claims: { ...guard.claims },
    acr: guard.acr === undefined ? null : [...new Set(guard.acr)],
    maxAuthAge: guard.maxAuthAge ?? null,
    checks: guard.check === undefined ? [] : [guard.check as GuardCheck],
    reportOnly: guard.reportOnly,
    rateLimit: guard.rateLimit,
    budget: guard.budget,
    enumeration: guard.enumeration,
    response: guard.response,
    body: guard.body,
  }
}

/** True when the guard requires anything at all (a public guard requires nothing). */
export function hasRequirement(guard: NormalizedGuard): boolean {
  return (
    guard.authenticated ||
    guard.allOf.length > 0 ||
    guard.anyOf.length > 0 ||
    guard.callers !== null ||
    Object.keys(guard.claims).length > 0 ||
    guard.acr !== null ||
    guard.maxAuthAge !== null ||
    guard.checks.length > 0
  )
}

function sameMatcher(a: ParsedClaimMatcher, b: ParsedClaimMatcher): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/** Where a merge happens, for error messages: the route and what it builds on. */
export interface MergeSite {
  readonly route: string
  /** e.g. `the guard defaults of prefix /admin`, or `policy 'readVideos'`. */
  readonly base: string
  /** Field prefix, `guard` or `policies.<name>`. */
  readonly prefix: string
}

/**
 * Combines a base guard (a named policy, a prefix default) with a guard that builds on it. The
 * result requires everything both require: a guard may tighten its base, never loosen it, and
 * an attempt to loosen is a startup error (`PCL_INVALID_GUARD`; named policies report it as
 * `PCL_INVALID_OPTIONS`).
 */
export function mergeGuards(
  base: NormalizedGuard,
  over: NormalizedGuard,
  site: MergeSite,
): NormalizedGuard {
  const fail = (field: string, message: string): never => {
    throw new PortcullisConfigError(
      'PCL_INVALID_GUARD',
      `${site.route}: ${site.prefix}.${field} ${message}`,
      { route: site.route, field: `${site.prefix}.${field}` },
    )
  }
  if (over.public !== null) {
    // The base of a public route is its prefix's defaults, never public (a public guard cannot
    // `extends`, and prefix defaults cannot be public): it must require nothing.
    if (hasRequirement(base)) {
      fail(
        'public',
        `would loosen ${site.base}, which requires a token: a guard may tighten it only`,
      )
    }
    return {
      ...base,
      public: over.public,
      rateLimit: over.rateLimit ?? base.rateLimit,
      budget: over.budget ?? base.budget,
      enumeration: over.enumeration ?? base.enumeration,
      response: over.response ?? base.response,
      body: over.body ?? base.body,
    }
  }
  let callers = base.callers ?? over.callers
  if (base.callers !== null && over.callers !== null) {
    const widened = over.callers.filter((c) => !base.callers!.includes(c))
    if (widened.length > 0) {
      fail(
        'callers',
        `adds callers ${widened.map((c) => `'${c}'`).join(', ')} that ${site.base} does not allow: a guard may narrow callers, not widen them`,
      )
    }
    callers = over.callers
  }
  let acr = base.acr ?? over.acr
  if (base.acr !== null && over.acr !== null) {
    const widened = over.acr.filter((value) => !base.acr!.includes(value))
    if (widened.length > 0) {
      fail(
        'acr',
        `adds acr values ${widened.map((v) => `'${v}'`).join(', ')} that ${site.base} does not accept: a guard may narrow acr, not widen it`,
      )
    }
    acr = over.acr
  }
  if (base.maxAuthAge !== null && over.maxAuthAge !== null && over.maxAuthAge > base.maxAuthAge) {
    fail(
      'maxAuthAge',
      `(${over.maxAuthAge}s) would loosen ${site.base}, which requires an authentication at most ${base.maxAuthAge}s old`,
    )
  }
  const claims: Record<string, ParsedClaimMatcher> = { ...base.claims }
  for (const [claim, matcher] of Object.entries(over.claims)) {
    const existing = claims[claim]
    if (existing !== undefined && !sameMatcher(existing, matcher)) {
      fail(`claims.${claim}`, `conflicts with the rule ${site.base} sets for this claim`)
    }
    claims[claim] = matcher
  }
  if (base.reportOnly === false && over.reportOnly === true) {
    fail('reportOnly', `would loosen ${site.base}, which enforces its rules`)
  }
  return {
    public: null,
    authenticated: base.authenticated || over.authenticated,
    allOf: [...new Set([...base.allOf, ...over.allOf])],
    anyOf: [...base.anyOf, ...over.anyOf],
    callers,
    claims,
    acr,
    maxAuthAge: over.maxAuthAge ?? base.maxAuthAge,
    checks: [...base.checks, ...over.checks],
    reportOnly: over.reportOnly ?? base.reportOnly,
    // A route's own limit or allowlist replaces its base's (their plugins check the result).
    rateLimit: over.rateLimit ?? base.rateLimit,
    budget: over.budget ?? base.budget,
    enumeration: over.enumeration ?? base.enumeration,
    response: over.response ?? base.response,
    body: over.body ?? base.body,
  }
}
