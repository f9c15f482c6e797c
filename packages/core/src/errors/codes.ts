/**
 * The kind of failure a code belongs to; it picks the error class and the HTTP status family.
 *
 * - `config`: a startup error (bad options, bad guard, unguarded route); never sent to a client.
 * - `authentication`: 401 (or 400 for a malformed request), RFC 6750 §3.1.
 * - `authorization`: 403.
 * - `request`: 400, 413 or 415, a request body the guard refused (an undeclared field, too
 *   large, unreadable).
 * - `rate-limit`: 429.
 * - `dependency`: 503, a dependency the guard needs is unavailable (JWKS, Redis).
 * - `response`: 500, a response the guard refused to let out.
 * - `internal`: 500, anything else; nothing about it reaches the client.
 */
export type ErrorKind =
  | 'config'
  | 'authentication'
  | 'authorization'
  | 'request'
  | 'rate-limit'
  | 'dependency'
  | 'response'
  | 'internal'

/**
 * Error codes carried in a `Bearer` `WWW-Authenticate` challenge: RFC 6750 §3.1, and RFC 9470 §3
 * (`insufficient_user_authentication`, step-up authentication).
 */
export type BearerErrorCode =
  'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'insufficient_user_authentication'

/**
 * RFC 9449 §7.1 and §9 error codes of the `DPoP` scheme, about the proof rather than the token.
 * A challenge carrying one is always a `DPoP` challenge.
 */
export type DpopErrorCode = 'invalid_dpop_proof' | 'use_dpop_nonce'

/** One row of the error table. */
export interface ErrorCodeSpec {
  readonly kind: ErrorKind
  readonly status: number
  /** Short, safe, human title: the problem+json `title`. Never holds request data. */
  readonly title: string
  /** RFC 6750 error for `WWW-Authenticate`, when the code is about the access token. */
  readonly bearerError?: BearerErrorCode
  /** RFC 9449 error for a `DPoP` challenge, when the code is about the DPoP proof. */
  readonly dpopError?: DpopErrorCode
}

/**
 * The one table of Portcullis error codes. Codes are stable: they are part of the public
 * contract (problem+json `code`, audit events, logs) and documented in `docs/errors.md`,
 * which a test keeps in step with this table.
 */
export const errorCodes = {
  PCL_INVALID_OPTIONS: { kind: 'config', status: 500, title: 'Invalid Portcullis options' },
  PCL_INVALID_GUARD: { kind: 'config', status: 500, title: 'Invalid route guard' },
  PCL_UNGUARDED_ROUTE: { kind: 'config', status: 500, title: 'Route without a guard' },

  PCL_INVALID_REQUEST: {
    kind: 'authentication',
    status: 400,
    title: 'Malformed authentication request',
    bearerError: 'invalid_request',
  },
  PCL_TOKEN_MISSING: { kind: 'authentication', status: 401, title: 'Authentication required' },
  PCL_TOKEN_INVALID: {
    kind: 'authentication',
    status: 401,
    title: 'Invalid access token',
    bearerError: 'invalid_token',
  },
  PCL_TOKEN_EXPIRED: {
    kind: 'authentication',
    status: 401,
    title: 'Access token expired',
    bearerError: 'invalid_token',
  },
  PCL_TOKEN_TOO_LARGE: {
    kind: 'authentication',
    status: 401,
    title: 'Access token too large',
    bearerError: 'invalid_token',
  },
  PCL_TOKEN_REVOKED: {
    kind: 'authentication',
    status: 401,
    title: 'Access token revoked',
    bearerError: 'invalid_token',
  },

  PCL_INSUFFICIENT_AUTHENTICATION: {
    kind: 'authentication',
    status: 401,
    title: 'Stronger or more recent authentication required',
    bearerError: 'insufficient_user_authentication',
  },

  PCL_TOKEN_BINDING_MISMATCH: {
    kind: 'authentication',
    status: 401,
    title: 'Access token not bound to this sender',
    bearerError: 'invalid_token',
  },
  PCL_DPOP_REQUIRED: {
    kind: 'authentication',
    status: 401,
    title: 'DPoP-bound access token required',
    bearerError: 'invalid_token',
  },
  PCL_DPOP_PROOF_INVALID: {
    kind: 'authentication',
    status: 401,
    title: 'Invalid DPoP proof',
    dpopError: 'invalid_dpop_proof',
  },
  PCL_DPOP_PROOF_REPLAYED: {
    kind: 'authentication',
    status: 401,
    title: 'DPoP proof already used',
    dpopError: 'invalid_dpop_proof',
  },
  PCL_DPOP_NONCE_REQUIRED: {
    kind: 'authentication',
    status: 401,
    title: 'DPoP proof needs a fresh server nonce',
    dpopError: 'use_dpop_nonce',
  },
  PCL_INSUFFICIENT_SCOPE: {
    kind: 'authorization',
    status: 403,
    title: 'Insufficient scope',
    bearerError: 'insufficient_scope',
  },
  PCL_CALLER_NOT_ALLOWED: { kind: 'authorization', status: 403, title: 'Forbidden' },
  PCL_CLAIM_MISMATCH: { kind: 'authorization', status: 403, title: 'Forbidden' },
  PCL_CHECK_DENIED: { kind: 'authorization', status: 403, title: 'Forbidden' },
  PCL_ROUTE_NOT_GUARDED: { kind: 'authorization', status: 403, title: 'Forbidden' },
  PCL_FIELD_NOT_WRITABLE: { kind: 'authorization', status: 403, title: 'Field not writable' },

  PCL_MALFORMED_REQUEST: { kind: 'request', status: 400, title: 'Malformed request' },
  PCL_URI_TOO_LONG: { kind: 'request', status: 414, title: 'URI too long' },
  PCL_UNKNOWN_FIELD: { kind: 'request', status: 400, title: 'Undeclared field in request body' },
  PCL_BODY_TOO_LARGE: { kind: 'request', status: 413, title: 'Request body too large' },
  PCL_BODY_UNREADABLE: {
    kind: 'request',
    status: 415,
    title: 'Request body the guard cannot read',
  },

  PCL_RATE_LIMITED: { kind: 'rate-limit', status: 429, title: 'Too many requests' },
  PCL_BUDGET_EXHAUSTED: { kind: 'rate-limit', status: 429, title: 'Egress budget exhausted' },
  PCL_ENUMERATION: { kind: 'rate-limit', status: 429, title: 'Too many distinct objects' },
  PCL_LOCKED_OUT: {
    kind: 'rate-limit',
    status: 429,
    title: 'Locked out after repeated denials',
  },

  PCL_KEYS_UNAVAILABLE: {
    kind: 'dependency',
    status: 503,
    title: 'Token verification temporarily unavailable',
  },
  PCL_INTROSPECTION_UNAVAILABLE: {
    kind: 'dependency',
    status: 503,
    title: 'Token introspection temporarily unavailable',
  },
  PCL_REVOCATION_UNAVAILABLE: {
    kind: 'dependency',
    status: 503,
    title: 'Token revocation check temporarily unavailable',
  },
  PCL_CHECK_UNAVAILABLE: {
    kind: 'dependency',
    status: 503,
    title: 'Access check temporarily unavailable',
  },
  PCL_DPOP_UNAVAILABLE: {
    kind: 'dependency',
    status: 503,
    title: 'DPoP replay check temporarily unavailable',
  },
  PCL_STORE_UNAVAILABLE: {
    kind: 'dependency',
    status: 503,
    title: 'Rate limit store temporarily unavailable',
  },

  PCL_RESPONSE_REJECTED: { kind: 'response', status: 500, title: 'Response refused by guard' },
  PCL_TOO_MANY_ITEMS: { kind: 'response', status: 500, title: 'Response refused by guard' },

  PCL_INTERNAL: { kind: 'internal', status: 500, title: 'Internal server error' },
} as const satisfies Record<`PCL_${string}`, ErrorCodeSpec>

/** Every stable Portcullis error code. */
export type PortcullisErrorCode = keyof typeof errorCodes

/** The codes of one kind, e.g. `CodeOfKind<'authorization'>`. */
export type CodeOfKind<K extends ErrorKind> = {
  [C in PortcullisErrorCode]: (typeof errorCodes)[C]['kind'] extends K ? C : never
}[PortcullisErrorCode]

/** Base URL of the error reference; the problem+json `type` is this plus `#` and the code in lower case. */
export const ERROR_DOCS_URL =
  'https://github.com/portcullis-dev/portcullis/blob/main/docs/errors.md'

/** True when `code` is a known Portcullis code (an own key of the table). */
export function isErrorCode(code: unknown): code is PortcullisErrorCode {
  return typeof code === 'string' && Object.hasOwn(errorCodes, code)
}

/** The problem+json `type` URI for a code: a link to its entry in the error reference. */
export function problemType(code: PortcullisErrorCode): string {
  return `${ERROR_DOCS_URL}#${code.toLowerCase()}`
}
