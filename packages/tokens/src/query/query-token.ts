/** The query parameter of RFC 6750 §2.3 (URI query parameter). */
export const QUERY_TOKEN_PARAMETER = 'access_token'

// Whether a query can hold the token parameter at all: its name appears literally, or some name
// is percent-encoded (`access%5Ftoken`). Keeps the common query to one or two scans.
function mayHoldToken(query: string): boolean {
  return query.includes(QUERY_TOKEN_PARAMETER) || query.includes('%')
}

/**
 * Every value of the `access_token` query parameter of a request target, or `null` when it has
 * none. Names are decoded first (`application/x-www-form-urlencoded`, as `URLSearchParams` and the
 * frameworks' query parsers do), so `?access%5Ftoken=` is the same parameter as `?access_token=`.
 */
export function queryTokenValues(url: string): string[] | null {
  const start = url.indexOf('?')
  if (start === -1) return null
  const query = url.slice(start + 1)
  if (!mayHoldToken(query)) return null
  const values = new URLSearchParams(query).getAll(QUERY_TOKEN_PARAMETER)
  return values.length === 0 ? null : values
}
