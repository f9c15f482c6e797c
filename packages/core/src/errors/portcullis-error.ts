import {
  errorCodes,
  isErrorCode,
  type CodeOfKind,
  type ErrorKind,
  type PortcullisErrorCode,
} from './codes.js'

const brand = Symbol.for('portcullis.error')

/**
 * How a refusal is challenged when DPoP (RFC 9449) applies to the request: the request used the
 * `DPoP` scheme, the route or issuer requires it, or the token is DPoP-bound.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export interface DpopChallenge {
  /** JWS algorithms accepted in DPoP proofs: the challenge's `algs` parameter. */
  readonly algs: readonly string[]
  /**
   * `true`: answer with a `DPoP` challenge only (the request used DPoP, or only DPoP is accepted).
   * `false`: the `Bearer` challenge, followed by a `DPoP` one offering the scheme.
   */
  readonly only: boolean
}

/**
 * What a step-up challenge (RFC 9470 §3) asks the client for: an authentication context class
 * among `acrValues`, or an authentication no older than `maxAge` seconds, or both.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9470#section-3
 */
export interface StepUpChallenge {
  /** Acceptable `acr` values: the challenge's `acr_values` parameter. */
  readonly acrValues?: readonly string[] | undefined
  /** Largest accepted age of the user's authentication, in seconds: the `max_age` parameter. */
  readonly maxAge?: number | undefined
}

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
  /** The DPoP challenge of a 401 (RFC 9449 §7.1), when DPoP applies to the request. */
  dpop?: DpopChallenge | undefined
  /** What a `PCL_INSUFFICIENT_AUTHENTICATION` challenge asks for (RFC 9470 §3). */
  stepUp?: StepUpChallenge | undefined
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
  readonly dpop: DpopChallenge | undefined
  /** What a step-up challenge asks for (RFC 9470 §3), on `PCL_INSUFFICIENT_AUTHENTICATION`. */
  readonly stepUp: StepUpChallenge | undefined

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
    this.dpop = options.dpop
    this.stepUp = options.stepUp
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
  /**
   * The findings this error reports together, when there are several (each invalid guard, the
   * unguarded routes): startup reports every problem at once, not the first one.
   */
  errors?: readonly PortcullisConfigError[]
}

/**
 * Startup error: bad plugin options, a bad route guard, or routes without a guard.
 * Fails `app.ready()`; its message names the route and the field.
 */
export class PortcullisConfigError extends PortcullisError {
  readonly route: string | undefined
  readonly field: string | undefined
  readonly routes: readonly string[]
  /** Each finding when this error reports several, in the order of the message; else empty. */
  readonly errors: readonly PortcullisConfigError[]

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
    this.errors = location.errors ?? []
  }
}

/** The constructor of the runtime error class of one kind (see {@link kindError}). */
export interface KindErrorConstructor<K extends ErrorKind> {
  new (
    code: CodeOfKind<K>,
    options?: PortcullisErrorOptions,
  ): PortcullisError & { readonly kind: K }
  readonly prototype: PortcullisError
}

// The runtime error classes differ only in their kind and name, both from the table's kinds:
// one factory builds them, with literal names (never `constructor.name`, which minifiers mangle).
function kindError<K extends ErrorKind>(kind: K, name: string): KindErrorConstructor<K> {
  const ErrorOfKind = class extends PortcullisError {
    constructor(code: CodeOfKind<K>, options?: PortcullisErrorOptions) {
      checkKind(code, kind, name)
      super(code, options)
      this.name = name
    }
  }
  Object.defineProperty(ErrorOfKind, 'name', { value: name })
  return ErrorOfKind as unknown as KindErrorConstructor<K>
}

/** 401 (or 400 for a malformed request): no valid credential. */
export const AuthenticationError = kindError('authentication', 'AuthenticationError')
/** 401 (or 400 for a malformed request): no valid credential. */
export type AuthenticationError = InstanceType<typeof AuthenticationError>

/** 403: a valid credential that this route does not accept. */
export const AuthorizationError = kindError('authorization', 'AuthorizationError')
/** 403: a valid credential that this route does not accept. */
export type AuthorizationError = InstanceType<typeof AuthorizationError>

/** 400, 413 or 415: a request body the guard refused (an undeclared field, too large, unreadable). */
export const RequestError = kindError('request', 'RequestError')
/** 400, 413 or 415: a request body the guard refused (an undeclared field, too large, unreadable). */
export type RequestError = InstanceType<typeof RequestError>

/** 429: a rate limit was exceeded. */
export const RateLimitError = kindError('rate-limit', 'RateLimitError')
/** 429: a rate limit was exceeded. */
export type RateLimitError = InstanceType<typeof RateLimitError>

/** 503: a dependency the guard needs (JWKS, Redis) is unavailable; the guard fails closed. */
export const DependencyError = kindError('dependency', 'DependencyError')
/** 503: a dependency the guard needs (JWKS, Redis) is unavailable; the guard fails closed. */
export type DependencyError = InstanceType<typeof DependencyError>

/** 500: a response the guard refused to let out (undeclared fields in reject mode, too many items). */
export const ResponseError = kindError('response', 'ResponseError')
/** 500: a response the guard refused to let out (undeclared fields in reject mode, too many items). */
export type ResponseError = InstanceType<typeof ResponseError>

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
