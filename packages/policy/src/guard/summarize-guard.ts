import type { ParsedClaimMatcher } from './guard-schema.js'
import type { NormalizedGuard } from './normalized-guard.js'

function matcherText(claim: string, matcher: ParsedClaimMatcher): string {
  if (typeof matcher !== 'object') return `${claim} = ${JSON.stringify(matcher)}`
  if ('oneOf' in matcher) return `${claim} in ${JSON.stringify(matcher.oneOf)}`
  if ('contains' in matcher) return `${claim} contains ${JSON.stringify(matcher.contains)}`
  const numeric = matcher.numeric === true ? ' (numeric)' : ''
  if ('param' in matcher) return `${claim} = :${matcher.param}${numeric}`
  return `${claim} = ?${matcher.query}${numeric}`
}

/**
 * A one-line summary of what a guard requires, for the inventory and `portcullis audit`:
 * `scopes: videos:read AND (a OR b); callers: search-svc; claims: tenant = :tenantId; check: isOwner`.
 */
export function summarizeGuard(guard: NormalizedGuard, reportOnly: boolean): string {
  if (guard.public !== null) return `public: ${guard.public}`
  const parts: string[] = []
  const scopeTerms = [
    ...guard.allOf,
    ...guard.anyOf.map((group) => (group.length === 1 ? group[0]! : `(${group.join(' OR ')})`)),
  ]
  if (scopeTerms.length > 0) parts.push(`scopes: ${scopeTerms.join(' AND ')}`)
  if (guard.callers !== null) parts.push(`callers: ${guard.callers.join(', ')}`)
  const claims = Object.entries(guard.claims)
  if (claims.length > 0)
    parts.push(`claims: ${claims.map(([c, m]) => matcherText(c, m)).join(', ')}`)
  if (guard.acr !== null) parts.push(`acr: ${guard.acr.join(' OR ')}`)
  if (guard.maxAuthAge !== null) parts.push(`maxAuthAge: ${guard.maxAuthAge}s`)
  if (guard.checks.length > 0) {
    parts.push(`check: ${guard.checks.map((fn) => fn.name || 'anonymous').join(', ')}`)
  }
  if (parts.length === 0) parts.push('authenticated')
  const summary = parts.join('; ')
  return reportOnly ? `REPORT-ONLY (not enforced): ${summary}` : summary
}
