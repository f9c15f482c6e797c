import {
  errorCodes,
  isPortcullisError,
  problemType,
  type DpopChallenge,
  type ErrorCodeSpec,
  type PortcullisError,
  type PortcullisErrorCode,
} from '../errors/index.js'
import { formatChallenge, type ChallengeParams } from './www-authenticate.js'

/** An RFC 9457 problem details body, as Portcullis sends it. */
export interface ProblemBody {
  type: string
  title: string
  status: number
  code: PortcullisErrorCode
  detail?: string
}

/** A rendered error: what an adapter writes to the response. */
export interface RenderedProblem {
  status: number
  headers: Record<string, string>
  body: ProblemBody
}

/** Options for {@link renderProblem}. */
export interface RenderProblemOptions {
  /** `realm` of the `WWW-Authenticate` challenge (RFC 6750 §3). */
  realm?: string | undefined
  /**
   * The DPoP challenge (RFC 9449 §7.1) for errors that carry none of their own, e.g. a missing
   * token on a route that requires DPoP.
   */
  dpop?: DpopChallenge | undefined
  /**
   * URL of the resource's protected resource metadata, sent as `resource_metadata` in every
   * challenge (RFC 9728 §5.1).
   */
  resourceMetadata?: string | undefined
}

const MAX_DETAIL_LENGTH = 500

// Header names and values an error may add (e.g. Retry-After) are restricted to what cannot
// split a header: RFC 9110 token names and visible ASCII values.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const HEADER_VALUE = /^[\x20-\x7e]*$/

/**
 * Renders any error as an `application/problem+json` response (RFC 9457) with, for 401/403/400
 * about the token, the `WWW-Authenticate` header of RFC 6750 §3.
 *
 * Only Portcullis errors are rendered as themselves; anything else becomes a bare 500
 * `PCL_INTERNAL` without its message or stack, so nothing internal leaks.
 *
 * @example
 * ```ts
 * const { status, headers, body } = renderProblem(new AuthenticationError('PCL_TOKEN_EXPIRED'), { realm: 'api' })
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9457
 */
export function renderProblem(err: unknown, options: RenderProblemOptions = {}): RenderedProblem {
  if (!isPortcullisError(err) || err.kind === 'config' || err.kind === 'internal') {
    return internalProblem()
  }
  const spec = errorCodes[err.code]
  const body: ProblemBody = {
    type: problemType(err.code),
    title: spec.title,
    status: spec.status,
    code: err.code,
  }
  if (typeof err.detail === 'string' && err.detail.length > 0) {
    body.detail = err.detail.slice(0, MAX_DETAIL_LENGTH)
  }
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' }
  if (err.headers !== undefined) {
    for (const [name, value] of Object.entries(err.headers)) {
      const lower = name.toLowerCase()
      if (lower === 'content-type' || lower === 'www-authenticate') continue
      if (HEADER_NAME.test(name) && typeof value === 'string' && HEADER_VALUE.test(value)) {
        headers[lower] = value
      }
    }
  }
  const challenge = challengeFor(err, options, err.dpop ?? options.dpop)
  if (challenge !== undefined) headers['www-authenticate'] = challenge
  return { status: spec.status, headers, body }
}

function challengeFor(
  err: PortcullisError,
  { realm, resourceMetadata }: RenderProblemOptions,
  dpop: DpopChallenge | undefined,
): string | undefined {
  const spec: ErrorCodeSpec = errorCodes[err.code]
  if (spec.kind !== 'authentication' && spec.bearerError === undefined) return undefined
  const error = spec.dpopError ?? spec.bearerError
  const params: ChallengeParams = {
    realm,
    error,
    // RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
    errorDescription: error === undefined ? undefined : spec.title,
    scope: error === 'insufficient_scope' ? err.scope : undefined,
    acrValues: error === 'insufficient_user_authentication' ? err.stepUp?.acrValues : undefined,
    maxAge: error === 'insufficient_user_authentication' ? err.stepUp?.maxAge : undefined,
    resourceMetadata,
  }
  // RFC 9449 §7.1: errors about the proof, and refusals where only DPoP is accepted, use the DPoP
  // scheme (with `algs`); otherwise a 401 offers DPoP beside Bearer as a second challenge.
  if (spec.dpopError !== undefined || dpop?.only === true) {
    return formatChallenge({ ...params, scheme: 'DPoP', algs: dpop?.algs })
  }
  const bearer = formatChallenge(params)
  if (dpop === undefined || err.status !== 401) return bearer
  return `${bearer}, ${formatChallenge({ scheme: 'DPoP', realm, algs: dpop.algs, resourceMetadata })}`
}

function internalProblem(): RenderedProblem {
  const spec = errorCodes.PCL_INTERNAL
  return {
    status: spec.status,
    headers: { 'content-type': 'application/problem+json' },
    body: {
      type: problemType('PCL_INTERNAL'),
      title: spec.title,
      status: spec.status,
      code: 'PCL_INTERNAL',
    },
  }
}
