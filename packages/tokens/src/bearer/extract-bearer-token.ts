import { AuthenticationError } from '@portcullis/core'

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/

/** True when `value` has the syntax of an access token (RFC 6750 §2.1 b64token). */
export function isToken68(value: string): boolean {
  return TOKEN68.test(value)
}

function malformed(message: string): AuthenticationError {
  return new AuthenticationError('PCL_TOKEN_INVALID', { message })
}

// RFC 9110 §5.6.2: an auth-scheme is a token, made of these characters.
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/

// The scheme a header starts with when it is followed by neither a space nor another tchar
// (`Bearer:x`, `Bearer=x`, `Bearer<TAB>x`, `Bearer<NBSP>x`): no other scheme can be named so, so it
// is a malformed credential of that scheme, not "no credentials".
function garbledScheme(header: string, dpop: boolean): 'Bearer' | 'DPoP' | null {
  for (const scheme of dpop ? (['Bearer', 'DPoP'] as const) : (['Bearer'] as const)) {
    const next = header.charAt(scheme.length)
    if (
      next !== '' &&
      !TCHAR.test(next) &&
      header.slice(0, scheme.length).toLowerCase() === scheme.toLowerCase()
    ) {
      return scheme
    }
  }
  return null
}

/** The credentials of an `Authorization` header: a token and the scheme it came with. */
export interface AuthorizationCredentials {
  /** `Bearer` (RFC 6750) or `DPoP` (RFC 9449 §7.1). */
  readonly scheme: 'Bearer' | 'DPoP'
  /** The access token (a token68); never log it. */
  readonly token: string
}

/**
 * Reads an `Authorization` header carrying an access token with the `Bearer` (RFC 6750 §2.1) or
 * `DPoP` (RFC 9449 §7.1) scheme, both `<scheme> <token68>`.
 *
 * Returns `null` when the request carries no such credentials (no header, an empty one, or another
 * scheme such as `Basic`). Throws like {@link extractBearerToken}.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export function extractAccessToken(
  authorization: string | string[] | undefined,
): AuthorizationCredentials | null {
  return readCredentials(authorization, true, true)
}

/**
 * {@link extractAccessToken} without the token68 test of a `Bearer` token: for a caller that
 * hands the token to a verifier which tests it before any other work (`createVerifier`'s `verify`
 * does, on every token it has not verified before). A token seen before then costs no pattern
 * match. A `DPoP` token is still tested here.
 */
export function readAuthorization(
  authorization: string | string[] | undefined,
): AuthorizationCredentials | null {
  return readCredentials(authorization, true, false)
}

function readCredentials(
  authorization: string | string[] | undefined,
  dpop: boolean,
  token68: boolean,
): AuthorizationCredentials | null {
  let header: string | undefined
  if (Array.isArray(authorization)) {
    // RFC 9110 §11.6.2: one credential per request; several headers are ambiguous by design.
    if (authorization.length > 1) {
      throw new AuthenticationError('PCL_INVALID_REQUEST', {
        message: 'Several Authorization headers',
      })
    }
    header = authorization[0]
  } else {
    header = authorization
  }
  if (header === undefined || header === '') return null
  const space = header.indexOf(' ')
  const name = (space === -1 ? header : header.slice(0, space)).toLowerCase()
  // RFC 9110 §11.1: the scheme is case-insensitive. Another scheme, or a list that starts with
  // one (`Basic x, Bearer y`), carries no access token.
  const scheme = name === 'bearer' ? 'Bearer' : dpop && name === 'dpop' ? 'DPoP' : null
  if (scheme === null) {
    const garbled = garbledScheme(header, dpop)
    if (garbled === null) return null
    // RFC 6750 §3.1: a malformed request is `invalid_request` (400), never a missing token.
    throw new AuthenticationError('PCL_INVALID_REQUEST', {
      message: `Malformed Authorization header: ${garbled} not followed by one space`,
      detail: `Send Authorization: ${garbled} <token>, the scheme and the token separated by one space.`,
    })
  }
  if (space === -1) throw malformed(`${scheme} scheme without a token`)
  const token = header.slice(space + 1)
  // A DPoP token is always tested: its proof is looked for next, and a malformed token must be
  // refused as such first.
  if ((token68 || scheme === 'DPoP') && !isToken68(token)) {
    throw malformed(`${scheme} credentials are not exactly one token68 after one space`)
  }
  return { scheme, token }
}

/**
 * Reads the token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1).
 *
 * Returns `null` when the request carries no bearer credentials (no header, an empty one, or
 * another scheme such as `Basic` or `DPoP`): the caller answers 401 with a challenge and no error
 * code (RFC 6750 §3.1). Throws `AuthenticationError` `PCL_INVALID_REQUEST` (400
 * `invalid_request`) for several Authorization headers and for `Bearer` followed by anything but a
 * space or a token character (`Bearer:x`, `Bearer=x`, a tab, a no-break space), and
 * `PCL_TOKEN_INVALID` for a `Bearer` credential that is not exactly one space and one token68
 * (missing token, extra spaces, several tokens, invalid characters).
 *
 * @example
 * ```ts
 * const token = extractBearerToken(request.headers.authorization)
 * if (token === null) throw new AuthenticationError('PCL_TOKEN_MISSING')
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export function extractBearerToken(authorization: string | string[] | undefined): string | null {
  return readCredentials(authorization, false, true)?.token ?? null
}
