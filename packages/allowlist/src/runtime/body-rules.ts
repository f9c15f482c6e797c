import {
  PortcullisConfigError,
  RequestError,
  type PortcullisError,
  type RenderedProblem,
} from '@portcullis/core'
import {
  refuse,
  reportDenial,
  type Answer,
  type DecisionContext,
  type RequestView,
} from '@portcullis/core/internal'
import type { IncomingMessage } from 'node:http'
import { compileBodyRule, type CompiledBodyRule } from '../body/index.js'

/** A route's `guard.body`, validated and compiled once: see {@link planBody}. */
export interface BodyPlan {
  /** The compiled rule, or `null` for a route without `guard.body`. */
  readonly rule: CompiledBodyRule | null
}

/** What {@link planBody} needs beside the route's `guard.body`. */
export interface BodyPlanSite {
  /** `POST /v1/videos`, as errors name the route. */
  readonly label: string
  readonly knownScopes: ReadonlySet<string> | undefined
}

/** What {@link bodySummary} needs to know of the route a plan serves. */
export interface BodyRouteSite {
  readonly label: string
  /** The methods the route serves (`POST`, or Express's `ALL` and `USE`). */
  readonly methods: readonly string[]
  /** The `requireBody` option: a route that accepts a body must declare `guard.body`. */
  readonly requireBody: boolean
}

// The methods whose requests carry a body to bind to a record (RFC 9110 §9.3); Express's
// `app.all` serves them too.
const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'ALL'])

/** The inventory's `body` column of a route that accepts a body without `guard.body`. */
export const NO_BODY_RULE = 'NONE: request bodies are not allowlisted'

/** True when one of the methods carries a body to bind (POST, PUT, PATCH; Express's ALL). */
export function acceptsBody(methods: readonly string[]): boolean {
  return methods.some((method) => BODY_METHODS.has(method.toUpperCase()))
}

/**
 * Validates and compiles a route's `guard.body` once, the same for every adapter. Throws a
 * `PortcullisConfigError` (`PCL_INVALID_GUARD`) naming the route and the field.
 */
export function planBody(spec: unknown, site: BodyPlanSite): BodyPlan {
  if (spec === undefined) return { rule: null }
  return {
    rule: compileBodyRule(spec, { route: site.label, scopesGranted: site.knownScopes }),
  }
}

/**
 * The inventory's `body` column for a route: the rule's summary, {@link NO_BODY_RULE} for a
 * route that accepts a body without one, or `null` for a route that accepts none. With
 * `requireBody`, a route that accepts a body without `guard.body` is a configuration error
 * (`PCL_INVALID_GUARD`, naming the route).
 */
export function bodySummary(plan: BodyPlan, site: BodyRouteSite): string | null {
  if (plan.rule !== null) return plan.rule.summary
  if (!acceptsBody(site.methods)) return null
  if (site.requireBody) {
    throw new PortcullisConfigError(
      'PCL_INVALID_GUARD',
      `${site.label}: guard.body is required (requireBody): declare the fields a request body may write ({ writable: [...] }) or { passthrough: '<reason>' }`,
      { route: site.label, field: 'guard.body' },
    )
  }
  return NO_BODY_RULE
}

/** What becomes of a parsed body. */
export type BodyOutcome =
  | { readonly kind: 'keep' }
  | { readonly kind: 'replace'; readonly body: unknown }
  | { readonly kind: 'refuse'; readonly problem: RenderedProblem }

/** The request-body step of one route: every body reaches the application through it. */
export interface BodyRules {
  /** The largest body accepted, in bytes, or `null`. */
  readonly maxBytes: number | null
  /**
   * Before the body is read, from the headers: a multipart body (which the guard cannot read)
   * is refused with 415, a `Content-Length` over `maxBytes` with 413. `null` to go on.
   */
  head(view: RequestView): Answer
  /**
   * The body as the application's parser left it (`undefined` when none ran): kept, replaced
   * (`unknown: 'strip'`), or refused with its problem (already audited). `size` is the number of
   * bytes the adapter counted while the body was read, or `null` when it did not count them.
   */
  admit(view: RequestView, body: unknown, size: number | null): BodyOutcome
  /**
   * The refusal of a body that reached the application's handlers unparsed (415), or `null`
   * under report-only.
   */
  unparsed(view: RequestView): RenderedProblem | null
}

const KEEP: BodyOutcome = Object.freeze({ kind: 'keep' as const })
const EMPTY_SCOPES: ReadonlySet<string> = new Set()

/** The length a request declares (`Content-Length`), or `null` when it declares none (chunked). */
export function declaredLength(message: IncomingMessage): number | null {
  const header = message.headers['content-length']
  if (header === undefined) return null
  const length = Number(header)
  return Number.isFinite(length) ? length : null
}

/** True when the request carries a body on the wire: chunked, or a `Content-Length` above 0. */
export function hasBody(message: IncomingMessage): boolean {
  if (message.headers['transfer-encoding'] !== undefined) return true
  const length = declaredLength(message)
  return length !== null && length > 0
}

function isMultipart(message: IncomingMessage): boolean {
  const type = message.headers['content-type']
  return typeof type === 'string' && /^\s*multipart\//iu.test(type)
}

// What a parsed body weighs as JSON: the size of a chunked body its adapter did not count.
function jsonSize(body: unknown): number {
  try {
    const text = JSON.stringify(body)
    return text === undefined ? 0 : Buffer.byteLength(text)
  } catch {
    return Infinity
  }
}

/**
 * Builds the request-body step of one route, once, or `null` when the route has no rule to
 * enforce (no `guard.body`, or a passthrough). A refusal answers with problem+json and a `deny`
 * audit event naming the field paths; under report-only it is audited (`reportOnly: true`) and
 * the body served as it came, except `__proto__`, `constructor` and `prototype` keys, refused
 * whatever the mode.
 */
export function createBodyRules(
  plan: BodyPlan,
  route: string,
  context: DecisionContext,
  reportOnly: boolean,
): BodyRules | null {
  const rule = plan.rule
  if (rule === null || rule.mode === 'passthrough') return null
  const maxBytes = rule.maxBytes

  function deny(
    view: RequestView,
    error: PortcullisError,
    fields: readonly string[] | undefined,
    always = false,
  ): RenderedProblem | null {
    if (reportOnly && !always) {
      reportDenial(view, context, error, route, fields)
      return null
    }
    return refuse(view, context, error, route, fields === undefined ? undefined : { fields })
  }

  function tooLarge(view: RequestView): RenderedProblem | null {
    return deny(
      view,
      new RequestError('PCL_BODY_TOO_LARGE', {
        detail: `The request body is larger than ${maxBytes} bytes`,
      }),
      undefined,
    )
  }

  function refused(problem: RenderedProblem | null): BodyOutcome {
    return problem === null ? KEEP : { kind: 'refuse', problem }
  }

  function unreadable(view: RequestView, detail: string): RenderedProblem | null {
    return deny(view, new RequestError('PCL_BODY_UNREADABLE', { detail }), undefined)
  }

  return Object.freeze({
    maxBytes,
    head(view: RequestView): Answer {
      const message = view.message
      if (isMultipart(message)) {
        return unreadable(
          view,
          'Multipart request bodies are not read by the guard: this route accepts JSON or form fields',
        )
      }
      if (maxBytes === null) return null
      const length = declaredLength(message)
      return length !== null && length > maxBytes ? tooLarge(view) : null
    },
    admit(view: RequestView, body: unknown, size: number | null): BodyOutcome {
      if (body === undefined) {
        if (!hasBody(view.message)) return KEEP
        return refused(
          unreadable(view, 'The request body was not parsed into an object the guard can read'),
        )
      }
      if (maxBytes !== null) {
        const measured = size ?? (declaredLength(view.message) === null ? jsonSize(body) : null)
        if (measured !== null && measured > maxBytes) return refused(tooLarge(view))
      }
      const result = rule.check(body, view.principal?.scopes ?? EMPTY_SCOPES)
      if (result.ok) return result.body === body ? KEEP : { kind: 'replace', body: result.body }
      const fields = result.fields.length === 0 ? undefined : result.fields
      return refused(deny(view, result.error, fields, result.always))
    },
    unparsed(view: RequestView): RenderedProblem | null {
      return unreadable(
        view,
        'The request body reached the handler unparsed: the guard cannot read it',
      )
    },
  } satisfies BodyRules)
}
