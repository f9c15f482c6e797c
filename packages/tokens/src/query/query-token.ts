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

/** What {@link redactQueryTokens} writes in place of a token. */
export const REDACTED = '[REDACTED]'

// A parameter name as `URLSearchParams` decodes it, as far as it can equal `access_token`: `+` is
// a space and ASCII percent-encodings are decoded. Any other escape decodes to a non-ASCII
// character (or U+FFFD), so it is left encoded: that name differs from `access_token` either way.
function decodedName(raw: string): string {
  return raw
    .replace(/\+/g, ' ')
    .replace(/%([0-7][0-9A-Fa-f])/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

/**
 * `url` with the value of every `access_token` query parameter (under any percent-encoding of the
 * name, as {@link queryTokenValues} finds them) replaced by `[REDACTED]`; everything else is left
 * byte for byte. For log lines: Portcullis refuses query tokens, but the URL that carried one is
 * logged before any guard runs.
 *
 * @example
 * ```ts
 * redactQueryTokens('/v1/videos?access%5Ftoken=eyJ...&page=2')
 * // '/v1/videos?access%5Ftoken=[REDACTED]&page=2'
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#query-tokens-and-logs
 */
export function redactQueryTokens(url: string): string {
  const start = url.indexOf('?')
  if (start === -1) return url
  const query = url.slice(start + 1)
  if (!mayHoldToken(query)) return url
  let redacted = false
  const pairs = query.split('&').map((pair) => {
    const equals = pair.indexOf('=')
    if (equals === -1 || decodedName(pair.slice(0, equals)) !== QUERY_TOKEN_PARAMETER) return pair
    redacted = true
    return `${pair.slice(0, equals + 1)}${REDACTED}`
  })
  return redacted ? `${url.slice(0, start + 1)}${pairs.join('&')}` : url
}
