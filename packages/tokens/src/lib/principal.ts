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

/** Freezes a JSON value and everything in it; iterative so that deep nesting cannot overflow. */
export function deepFreeze<T>(value: T): T {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const current = stack.pop()
    if (typeof current !== 'object' || current === null || Object.isFrozen(current)) continue
    Object.freeze(current)
    for (const child of Object.values(current)) stack.push(child)
  }
  return value
}

function malformed(claim: string): AuthenticationError {
  return new AuthenticationError('PCL_TOKEN_INVALID', {
    message: `Token claim has the wrong type: ${claim}`,
  })
}

function scopesOf(claim: 'scope' | 'scp', value: unknown, into: Set<string>): void {
  if (value === undefined) return
  // RFC 8693 §4.2 / RFC 9068 §2.2.3: `scope` is a space-delimited string. `scp` is commonly an
  // array (Okta, Ory) and sometimes a space-delimited string (Microsoft Entra): both accepted.
  const items = typeof value === 'string' ? value.split(' ') : value
  if (!Array.isArray(items)) throw malformed(claim)
  for (const item of items as unknown[]) {
    if (typeof item !== 'string') throw malformed(claim)
    if (item.length > 0) into.add(item)
  }
}

function optionalString(claims: JWTPayload, claim: string): string | undefined {
  const value = claims[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw malformed(claim)
  return value
}

/**
 * Builds the frozen {@link Principal} of a verified claims set. The claims object must be one
 * nothing else holds (jose parses a fresh one per verification): it is frozen in place.
 */
export function buildPrincipal(claims: JWTPayload): Principal {
  const subject = claims.sub
  if (typeof subject !== 'string' || subject.length === 0) throw malformed('sub')
  const issuer = claims.iss
  if (typeof issuer !== 'string') throw malformed('iss')
  const scopes = new Set<string>()
  scopesOf('scope', claims.scope, scopes)
  scopesOf('scp', claims.scp, scopes)
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
