import { AuthenticationError, type Principal } from '@portcullis/core'
import type { JWTPayload } from 'jose'

/** A `Set` of scopes that refuses changes once built, so a principal's scopes stay what was verified. */
export class ScopeSet extends Set<string> {
  constructor(scopes: Iterable<string>) {
    super()
    for (const scope of scopes) super.add(scope)
    Object.freeze(this)
  }

  override add(): never {
    throw new TypeError('principal.scopes is read-only')
  }

  override delete(): never {
    throw new TypeError('principal.scopes is read-only')
  }

  override clear(): never {
    throw new TypeError('principal.scopes is read-only')
  }
}

/**
 * Freezes a JSON value and everything in it; iterative so that deep nesting cannot overflow. Only
 * objects and arrays are stacked (a claims set is mostly strings and numbers).
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value
  const stack: object[] = [value]
  while (stack.length > 0) {
    const current = stack.pop() as Record<string, unknown>
    if (Object.isFrozen(current)) continue
    Object.freeze(current)
    for (const key of Object.keys(current)) {
      const child = current[key]
      if (typeof child === 'object' && child !== null) stack.push(child)
    }
  }
  return value
}

function malformed(claim: string, rule?: string): AuthenticationError {
  return new AuthenticationError('PCL_TOKEN_INVALID', {
    message: `Token claim has the wrong type: ${claim}${rule === undefined ? '' : ` (${rule})`}`,
  })
}

/** Where an issuer's scopes are read from: `TokensIssuerOptions.scopeClaim`. */
export type ScopeClaim = 'scope' | 'scp'

function scopesOf(claim: ScopeClaim, value: unknown): string[] {
  const scopes: string[] = []
  if (value === undefined) return scopes
  // RFC 9068 §2.2.3 and RFC 8693 §4.2: `scope` is one space-delimited string, and nothing else:
  // `scope: ["admin"]` is malformed, never a grant. `scp` (an issuer opts in) is an array of
  // strings (Okta, Ory) or a space-delimited string (Microsoft Entra).
  const items = typeof value === 'string' ? value.split(' ') : claim === 'scp' ? value : undefined
  const rule =
    claim === 'scope'
      ? "a space-delimited string, RFC 9068 §2.2.3; array scopes need scopeClaim: 'scp'"
      : 'an array of strings or a space-delimited string'
  if (!Array.isArray(items)) throw malformed(claim, rule)
  for (const item of items as unknown[]) {
    if (typeof item !== 'string') throw malformed(claim, rule)
    if (item.length > 0) scopes.push(item)
  }
  return scopes
}

function optionalString(claims: JWTPayload, claim: string): string | undefined {
  const value = claims[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw malformed(claim)
  return value
}

/**
 * Builds the frozen {@link Principal} of a verified claims set, its scopes from the issuer's
 * `scopeClaim` only (the other claim, if any, grants nothing). The claims object must be one
 * nothing else holds (jose parses a fresh one per verification): it is frozen in place.
 */
export function buildPrincipal(
  claims: JWTPayload,
  scopeClaim: ScopeClaim = 'scope',
  /** The subject when `sub` is absent (an introspection answer for a client's own token). */
  subjectWithoutSub?: string,
): Principal {
  const subject = claims.sub === undefined ? subjectWithoutSub : claims.sub
  if (typeof subject !== 'string' || subject.length === 0) throw malformed('sub')
  const issuer = claims.iss
  if (typeof issuer !== 'string') throw malformed('iss')
  const scopes = scopesOf(scopeClaim, claims[scopeClaim])
  // RFC 9068 §2.2: `client_id`; OpenID Connect's `azp` when an issuer sends only that.
  const clientId = optionalString(claims, 'client_id') ?? optionalString(claims, 'azp') ?? null
  return Object.freeze({
    subject,
    issuer,
    clientId,
    scopes: new ScopeSet(scopes),
    claims: deepFreeze(claims),
  })
}
