import {
  errorCodes,
  isErrorCode,
  type CodeOfKind,
  type ErrorKind,
  type PortcullisErrorCode,
} from './codes.js'

const brand = Symbol.for('portcullis.error')

/** Options common to every Portcullis error. */
export interface PortcullisErrorOptions {
  /** Developer-facing message; defaults to the code's title. Never sent to clients. */
  message?: string
  /** Client-safe detail for problem+json `detail`. Must never hold a token, key or claim value. */
  detail?: string
  /** Extra response headers (e.g. `Retry-After`). */
  headers?: Readonly<Record<string, string>>
  /** Scopes the route needs, for `WWW-Authenticate: Bearer scope="..."` (RFC 6750 §3). */
  scope?: readonly string[]
  /** The underlying error (a jose error, a Redis error...). Never rendered. */
  cause?: unknown
}

/**
 * Base of every error Portcullis throws or renders: a stable `code` (`PCL_*`) and an HTTP `status`.
 *
 * Use {@link isPortcullisError} rather than `instanceof`: two copies of the package (ESM and CJS,
 * or two versions) each have their own class, but share the `Symbol.for` brand.
 *
 * @example
 * ```ts
 * throw new AuthorizationError('PCL_INSUFFICIENT_SCOPE', { scope: ['videos:read'] })
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/errors.md
 */
export class PortcullisError extends Error {
  readonly code: PortcullisErrorCode
  readonly status: number
  readonly kind: ErrorKind
  readonly detail: string | undefined
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly scope: readonly string[] | undefined

  constructor(code: PortcullisErrorCode, options: PortcullisErrorOptions = {}) {
    if (!isErrorCode(code)) throw new TypeError(`Unknown Portcullis error code: ${String(code)}`)
    const spec = errorCodes[code]
    super(
      options.message ?? spec.title,
      options.cause === undefined ? {} : { cause: options.cause },
    )
    Object.defineProperty(this, brand, { value: true })
    this.name = 'PortcullisError'
    this.code = code
    this.status = spec.status
    this.kind = spec.kind
    this.detail = options.detail
    this.headers = options.headers
    this.scope = options.scope
  }
}

function checkKind(code: PortcullisErrorCode, kind: ErrorKind, className: string): void {
  if (isErrorCode(code) && errorCodes[code].kind !== kind) {
    throw new TypeError(`${className} cannot carry ${code} (a ${errorCodes[code].kind} code)`)
  }
}

/** Where a configuration error was found: the route and the field, for the message and tooling. */
export interface ConfigErrorLocation {
  /** `METHOD /url` of the route, when the error is about one route. */
  route?: string
  /** Dotted path of the offending field, e.g. `guard.public` or `tokens.issuers[0].audience`. */
  field?: string
  /** Every route concerned, for `PCL_UNGUARDED_ROUTE`. */
  routes?: readonly string[]
}

/**
 * Startup error: bad plugin options, a bad route guard, or routes without a guard.
 * Fails `app.ready()`; its message names the route and the field.
 */
export class PortcullisConfigError extends PortcullisError {
  readonly route: string | undefined
  readonly field: string | undefined
  readonly routes: readonly string[]

  constructor(
    code: CodeOfKind<'config'>,
    message: string,
    location: ConfigErrorLocation & { cause?: unknown } = {},
  ) {
    checkKind(code, 'config', 'PortcullisConfigError')
    super(code, { message, cause: location.cause })
    this.name = 'PortcullisConfigError'
    this.route = location.route
    this.field = location.field
    this.routes = location.routes ?? (location.route === undefined ? [] : [location.route])
  }
}

/** 401 (or 400 for a malformed request): no valid credential. */
export class AuthenticationError extends PortcullisError {
  constructor(code: CodeOfKind<'authentication'>, options?: PortcullisErrorOptions) {
    checkKind(code, 'authentication', 'AuthenticationError')
    super(code, options)
    this.name = 'AuthenticationError'
  }
}

/** 403: a valid credential that this route does not accept. */
export class AuthorizationError extends PortcullisError {
  constructor(code: CodeOfKind<'authorization'>, options?: PortcullisErrorOptions) {
    checkKind(code, 'authorization', 'AuthorizationError')
    super(code, options)
    this.name = 'AuthorizationError'
  }
}

/** 429: a rate limit was exceeded. */
export class RateLimitError extends PortcullisError {
  constructor(code: CodeOfKind<'rate-limit'>, options?: PortcullisErrorOptions) {
    checkKind(code, 'rate-limit', 'RateLimitError')
    super(code, options)
    this.name = 'RateLimitError'
  }
}

/** 503: a dependency the guard needs (JWKS, Redis) is unavailable; the guard fails closed. */
export class DependencyError extends PortcullisError {
  constructor(code: CodeOfKind<'dependency'>, options?: PortcullisErrorOptions) {
    checkKind(code, 'dependency', 'DependencyError')
    super(code, options)
    this.name = 'DependencyError'
  }
}

/** 500: a response the guard refused to let out (undeclared fields in reject mode, too many items). */
export class ResponseError extends PortcullisError {
  constructor(code: CodeOfKind<'response'>, options?: PortcullisErrorOptions) {
    checkKind(code, 'response', 'ResponseError')
    super(code, options)
    this.name = 'ResponseError'
  }
}

/**
 * True when `err` is a Portcullis error (of any copy of this package), optionally with `code`.
 *
 * @example
 * ```ts
 * app.ready().catch((err) => { if (isPortcullisError(err, 'PCL_UNGUARDED_ROUTE')) console.error(err.routes) })
 * ```
 */
export function isPortcullisError<C extends PortcullisErrorCode>(
  err: unknown,
  code?: C,
): err is PortcullisError & { code: C } {
  if (typeof err !== 'object' || err === null) return false
  if ((err as { [brand]?: unknown })[brand] !== true) return false
  return code === undefined || (err as PortcullisError).code === code
}

/** True when `err` is a Portcullis configuration (startup) error. */
export function isPortcullisConfigError(err: unknown): err is PortcullisConfigError {
  return isPortcullisError(err) && err.kind === 'config'
}
