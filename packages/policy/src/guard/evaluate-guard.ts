import {
  AuthenticationError,
  AuthorizationError,
  type GuardRequest,
  type PortcullisError,
  type Principal,
} from '@portcullis/core'
import type { ParsedClaimMatcher } from './guard-schema.js'
import type { GuardCheck, NormalizedGuard } from './normalized-guard.js'

/** A denial, or `null` to allow; a promise only when a `check` function is async. */
export type Decision = PortcullisError | null | Promise<PortcullisError | null>

/** Evaluates a compiled guard for a verified principal. */
export type Evaluate = (principal: Principal, request: GuardRequest) => Decision

type ClaimTest = (claims: Readonly<Record<string, unknown>>, request: GuardRequest) => boolean

// A claim compared with a URL value (a route parameter, a query value), which is text: a string
// claim as it is; a number claim only with `numeric: true`, by its decimal form (`42` matches
// `/users/42`, not `/users/042`); anything else (objects, arrays, booleans) never matches.
function sameAsText(claim: unknown, text: unknown, numeric: boolean): boolean {
  if (typeof text !== 'string' || text.length === 0) return false
  if (typeof claim === 'string') return claim === text
  if (numeric && typeof claim === 'number') return Number.isFinite(claim) && String(claim) === text
  return false
}

function field(source: unknown, name: string): unknown {
  return typeof source === 'object' && source !== null && Object.hasOwn(source, name)
    ? (source as Record<string, unknown>)[name]
    : undefined
}

function claimTest(claim: string, matcher: ParsedClaimMatcher): ClaimTest {
  if (typeof matcher !== 'object') return (claims) => field(claims, claim) === matcher
  if ('oneOf' in matcher) {
    const allowed = matcher.oneOf
    return (claims) => {
      const value = field(claims, claim)
      return allowed.some((v) => v === value)
    }
  }
  if ('contains' in matcher) {
    const wanted = matcher.contains
    return (claims) => {
      const value = field(claims, claim)
      return Array.isArray(value) && value.includes(wanted)
    }
  }
  const numeric = matcher.numeric === true
  if ('param' in matcher) {
    const param = matcher.param
    return (claims, request) =>
      sameAsText(field(claims, claim), field(request.params, param), numeric)
  }
  const query = matcher.query
  return (claims, request) => sameAsText(field(claims, claim), field(request.query, query), numeric)
}

// An `auth_time` further ahead of this clock than this is no authentication that has happened
// yet (a skewed or forged clock): it satisfies no `maxAuthAge`. The largest `clockTolerance`.
const AUTH_TIME_SKEW_SECONDS = 300

/**
 * The step-up test of a guard (RFC 9470): the token's `acr` among `acr`, its `auth_time` no older
 * than `maxAuthAge` seconds. A failure is a 401 whose challenge names both requirements, so the
 * client can come back with a token that meets them in one round trip (RFC 9470 §3).
 */
function stepUpTest(
  acr: readonly string[] | null,
  maxAuthAge: number | null,
): ((claims: Readonly<Record<string, unknown>>) => AuthenticationError | null) | null {
  if (acr === null && maxAuthAge === null) return null
  const accepted = acr === null ? null : new Set(acr)
  const challenge = Object.freeze({
    acrValues: acr ?? undefined,
    maxAge: maxAuthAge ?? undefined,
  })
  const refuse = (detail: string): AuthenticationError =>
    new AuthenticationError('PCL_INSUFFICIENT_AUTHENTICATION', { detail, stepUp: challenge })
  return (claims) => {
    if (accepted !== null) {
      const value = field(claims, 'acr')
      if (typeof value !== 'string' || !accepted.has(value)) {
        return refuse('A different authentication level is required')
      }
    }
    if (maxAuthAge !== null) {
      const authTime = field(claims, 'auth_time')
      const now = Date.now() / 1000
      if (
        typeof authTime !== 'number' ||
        !Number.isFinite(authTime) ||
        authTime > now + AUTH_TIME_SKEW_SECONDS ||
        now - authTime > maxAuthAge
      ) {
        return refuse('More recent authentication is required')
      }
    }
    return null
  }
}

function checkDenied(cause?: unknown): AuthorizationError {
  return new AuthorizationError('PCL_CHECK_DENIED', cause === undefined ? {} : { cause })
}

// `check` functions run last, in order; only `true` allows (fail closed on anything else), and
// an exception is a denial that keeps the exception as `cause` for the server log only.
function runChecks(
  checks: readonly GuardCheck[],
  principal: Principal,
  request: GuardRequest,
): Decision {
  for (let i = 0; i < checks.length; i++) {
    let result: unknown
    try {
      result = checks[i]!(principal, request)
    } catch (err) {
      return checkDenied(err)
    }
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      const rest = checks.slice(i + 1)
      return Promise.resolve(result).then(
        (value): Decision =>
          value === true
            ? rest.length === 0
              ? null
              : runChecks(rest, principal, request)
            : checkDenied(),
        (err: unknown) => checkDenied(err),
      )
    }
    if (result !== true) return checkDenied()
  }
  return null
}

/**
 * Compiles a normalized guard into its evaluator, once: the hot path only walks arrays and sets
 * built here. Order: scopes, callers, claims, step-up (`acr`, `maxAuthAge`), then `check`
 * functions last.
 */
export function buildEvaluator(guard: NormalizedGuard): Evaluate {
  const allOf = guard.allOf
  const anyOf = guard.anyOf
  // RFC 6750 §3: the challenge's `scope` lists what the route needs.
  const needed = [...new Set([...allOf, ...anyOf.flat()])]
  const callers = guard.callers === null ? null : new Set(guard.callers)
  const claims = Object.entries(guard.claims).map(([claim, matcher]) => claimTest(claim, matcher))
  const stepUp = stepUpTest(guard.acr, guard.maxAuthAge)
  const checks = guard.checks
  return function evaluate(principal, request) {
    const scopes = principal.scopes
    for (let i = 0; i < allOf.length; i++) {
      if (!scopes.has(allOf[i]!))
        return new AuthorizationError('PCL_INSUFFICIENT_SCOPE', { scope: needed })
    }
    for (let i = 0; i < anyOf.length; i++) {
      if (!anyOf[i]!.some((s) => scopes.has(s))) {
        return new AuthorizationError('PCL_INSUFFICIENT_SCOPE', { scope: needed })
      }
    }
    if (callers !== null && (principal.clientId === null || !callers.has(principal.clientId))) {
      return new AuthorizationError('PCL_CALLER_NOT_ALLOWED')
    }
    for (let i = 0; i < claims.length; i++) {
      if (!claims[i]!(principal.claims, request))
        return new AuthorizationError('PCL_CLAIM_MISMATCH')
    }
    if (stepUp !== null) {
      const refused = stepUp(principal.claims)
      if (refused !== null) return refused
    }
    return checks.length === 0 ? null : runChecks(checks, principal, request)
  }
}
