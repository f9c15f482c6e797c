import { PortcullisConfigError, type RenderedProblem, type ResponseError } from '@portcullis/core'
import {
  emitAudit,
  refuse,
  SPANS,
  type DecisionContext,
  type Egress,
  type Meter,
  type Pending,
  type RequestView,
  type GuardSpan,
  type Telemetry,
} from '@portcullis/core/internal'
import type { ResponseExposure } from '@portcullis/policy'
import {
  compileAllowlist,
  readSerializedBody,
  uninspectableError,
  type CompiledAllowlist,
  type ProjectionResult,
} from '../allowlist/index.js'

/** A route's response rules, planned once from its guard: see {@link planResponse}. */
export interface ResponsePlan {
  readonly allowlist: CompiledAllowlist
  /** `false` for a route without `response` (only with `requireResponse: false`). */
  readonly successBodies: boolean
  /** The inventory's `response` column. */
  readonly summary: string
  /** What can leave, for the register. */
  readonly exposure: ResponseExposure
}

/** What {@link planResponse} needs beside the route's `guard.response`. */
export interface PlanSite {
  /** `GET /v1/videos/:id`, as errors name the route. */
  readonly label: string
  readonly requireResponse: boolean
  readonly knownScopes: ReadonlySet<string> | undefined
  /** The route's response schema (Fastify), for `response: 'schema'`. */
  readonly schema?: unknown
}

/**
 * Plans a route's response rules once, the same for every adapter: its allowlist compiled, or,
 * without `guard.response`, a configuration error (`requireResponse`, the default) or the
 * problem+json fields for error bodies only. Throws a `PortcullisConfigError` naming the route.
 */
export function planResponse(
  spec: unknown,
  site: PlanSite,
  errorsOnly: CompiledAllowlist,
): ResponsePlan {
  if (spec !== undefined) {
    const allowlist = compileAllowlist(spec, {
      route: site.label,
      scopesGranted: site.knownScopes,
      schema: site.schema,
    })
    return {
      allowlist,
      successBodies: true,
      summary: allowlist.summary,
      exposure: allowlist.exposure,
    }
  }
  if (site.requireResponse) {
    throw new PortcullisConfigError(
      'PCL_INVALID_GUARD',
      `${site.label}: guard.response is required: declare the fields responses may carry ({ allow: [...] }), 'schema', or { passthrough: '<reason>' }`,
      { route: site.label, field: 'guard.response' },
    )
  }
  return {
    allowlist: errorsOnly,
    successBodies: false,
    summary: NO_ALLOWLIST,
    exposure: NO_EXPOSURE,
  }
}

const NO_ALLOWLIST = 'NONE: success bodies are not allowlisted'
const NO_EXPOSURE: ResponseExposure = Object.freeze({ kind: 'none' })

/** The allowlist of error bodies alone (problem+json fields), for routes without `response`. */
export function errorBodiesOnly(): CompiledAllowlist {
  return compileAllowlist({ allow: [] }, { route: 'error bodies' })
}

/** What becomes of a body the application serialized itself. */
export type SerializedOutcome =
  | { readonly kind: 'keep' }
  | { readonly kind: 'replace'; readonly body: string }
  | { readonly kind: 'refuse'; readonly problem: RenderedProblem }

/** What becomes of a value the framework has not serialized yet. */
export type ValueOutcome =
  | { readonly kind: 'keep' }
  | { readonly kind: 'replace'; readonly value: unknown }
  | { readonly kind: 'refuse'; readonly problem: RenderedProblem }

/** An outcome now, or later when a meter (an egress budget on Redis) answers later. */
export type Later<T> = T | Promise<T>

/** The response step of one route: every body leaves through it. */
export interface ResponseRules {
  /** True when a body of this status leaves unchecked (passthrough, or no allowlist). */
  exempt: (status: number) => boolean
  /**
   * Projects a value before it is serialized (objects, arrays, `res.json`), then charges it to
   * the route's meters (egress budgets); a promise only when a meter answers later.
   */
  value(view: RequestView, status: number, body: unknown): Later<ValueOutcome>
  /**
   * Projects a value as `value` does, without charging the meters: for a framework that charges
   * the body once it is final (`charge`), after hooks that may still change it.
   */
  project(view: RequestView, status: number, body: unknown): ValueOutcome
  /** Charges a projected body to the route's meters: `null` to send it, or the refusal. */
  charge(view: RequestView, status: number, sent: Egress): Pending
  /**
   * Projects a body serialized already: a JSON string or bytes, read per its `Content-Type` (at
   * most `maxBodyBytes`); anything else (a stream, non-JSON) is refused, never let out unchecked.
   */
  serialized(
    view: RequestView,
    status: number,
    payload: unknown,
    contentType: unknown,
  ): Later<SerializedOutcome>
  /** The refusal of a response the guard cannot inspect (`what`: 'a stream'). */
  uninspectable(view: RequestView, what: string): RenderedProblem
}

const EMPTY_SCOPES: ReadonlySet<string> = new Set()

/**
 * What a body is when the guard cannot read it whole before it leaves (a stream, an async
 * iterable, a generator), or `null`. Serialized as JSON, such a body would leave as `{}` (or as
 * whatever the framework streams later): it is refused, never let out unchecked.
 */
function unreadable(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null
  const value = body as Record<PropertyKey, unknown>
  if (typeof value.pipe === 'function') return 'a stream'
  if (typeof value[Symbol.asyncIterator] === 'function') return 'an async iterable'
  if (typeof value.next === 'function' && typeof value[Symbol.iterator] === 'function') {
    return 'an iterator'
  }
  return null
}

/**
 * Releases a body the guard refused without reading it: a Node stream is destroyed (its file
 * descriptor or socket freed), a web `ReadableStream` cancelled (its source's `cancel` runs), a
 * generator returned. Nothing else holds resources.
 */
export function release(body: unknown): void {
  const value = body as { destroy?: unknown; return?: unknown; cancel?: unknown }
  try {
    let done: unknown
    if (typeof value.destroy === 'function') {
      ;(value.destroy as () => void).call(body)
    } else if (typeof value.return === 'function') {
      done = (value.return as () => unknown).call(body)
    } else if (typeof value.cancel === 'function') {
      // A locked stream (someone reads it) refuses to be cancelled: it is dropped all the same.
      done = (value.cancel as () => unknown).call(body)
    }
    if (done instanceof Promise) done.catch(() => undefined)
  } catch {
    // A body that fails to release is dropped all the same.
  }
}
const KEEP = Object.freeze({ kind: 'keep' as const })

/** One meter for a route's meters, in order; `null` for none. */
function meterOf(meters: readonly Meter[]): Meter | null {
  if (meters.length === 0) return null
  if (meters.length === 1) return meters[0]!
  return function portcullisMeters(view, status, sent) {
    let answer: Pending = null
    for (const meter of meters) {
      answer =
        answer === null
          ? meter(view, status, sent)
          : answer instanceof Promise
            ? answer.then((a) => a ?? meter(view, status, sent))
            : answer
    }
    return answer
  }
}

/** The outcome once the meter has answered: itself, or the meter's refusal. */
function charged<T>(
  answer: Pending,
  outcome: T,
): Later<T | { readonly kind: 'refuse'; readonly problem: RenderedProblem }> {
  if (answer === null) return outcome
  if (!(answer instanceof Promise)) return { kind: 'refuse', problem: answer }
  return answer.then((settled) =>
    settled === null ? outcome : { kind: 'refuse' as const, problem: settled },
  )
}

/**
 * Builds the response step of one route, once. A refusal is a 500 problem+json
 * (`PCL_RESPONSE_REJECTED`, `PCL_TOO_MANY_ITEMS`) with a `deny` audit event, which names the
 * undeclared field paths of a body refused in reject mode; the adapter sends it in place of the
 * body.
 */
export function createResponseRules(
  plan: ResponsePlan,
  route: string,
  context: DecisionContext,
  maxBodyBytes: number,
  meters: readonly Meter[],
): ResponseRules {
  const { allowlist, successBodies } = plan
  // Egress budgets: charged on what the projection lets out, success bodies only.
  const meter = meterOf(meters)
  const passthrough = allowlist.mode === 'passthrough'
  const telemetry = context.telemetry
  // Stripped paths are collected (a slower walk) only while a meter or a span records them.
  const countRemoved = telemetry !== undefined && (telemetry.metrics || telemetry.tracing)

  function exempt(status: number): boolean {
    return status < 400 && (passthrough || !successBodies)
  }

  function refused(
    view: RequestView,
    error: ResponseError,
    undeclared: readonly string[] = [],
    notOwned?: number,
  ): RenderedProblem {
    return refuse(view, context, error, route, {
      ...(undeclared.length === 0 ? {} : { undeclaredFields: undeclared }),
      ...(notOwned === undefined ? {} : { notOwned }),
    })
  }

  function observe(
    telemetry: Telemetry,
    span: GuardSpan | undefined,
    view: RequestView,
    result: ProjectionResult,
  ): void {
    if (countRemoved && result.ok) telemetry.fieldsRemoved(view, route, result.removed.length)
    if (span === undefined) return
    if (result.ok) span.setAttribute('portcullis.allowlist.fields_removed', result.removed.length)
    if (result.ok) telemetry.endSpan(span, view, null)
    else telemetry.endSpan(span, view, result.error.code, result.error.status)
  }

  function project(view: RequestView, status: number, body: unknown): ProjectionResult {
    const principal = view.principal
    const span = telemetry?.startSpan(SPANS.project, view)
    const result = allowlist.project(body, {
      status,
      scopes: principal?.scopes ?? EMPTY_SCOPES,
      principal,
      collectRemoved: countRemoved,
    })
    if (telemetry !== undefined) observe(telemetry, span, view, result)
    // guard.response.owner, strip mode: the response leaves without them, and the event says so.
    const notOwned = result.ok ? (result.notOwned ?? 0) : 0
    if (notOwned > 0) emitAudit(view, context, 'allow', 'PCL_NOT_OWNED', { route, notOwned })
    return result
  }

  function refusal(view: RequestView, result: ProjectionResult & { ok: false }): RenderedProblem {
    return refused(view, result.error, result.removed, result.notOwned)
  }

  function projectValue(view: RequestView, status: number, body: unknown): ValueOutcome {
    if (exempt(status)) return KEEP
    const unread = unreadable(body)
    if (unread !== null) {
      release(body)
      return { kind: 'refuse', problem: refused(view, uninspectableError(unread)) }
    }
    const result = project(view, status, body)
    if (!result.ok) return { kind: 'refuse', problem: refusal(view, result) }
    return { kind: 'replace', value: result.value }
  }

  return Object.freeze({
    exempt,
    value(view: RequestView, status: number, body: unknown): Later<ValueOutcome> {
      const projected = projectValue(view, status, body)
      if (meter === null || projected.kind !== 'replace') return projected
      return charged(meter(view, status, { value: projected.value, text: undefined }), projected)
    },
    project: projectValue,
    charge: (view: RequestView, status: number, sent: Egress): Pending =>
      meter === null || exempt(status) ? null : meter(view, status, sent),
    serialized(view: RequestView, status: number, payload: unknown, contentType: unknown) {
      if (exempt(status) || payload === null || payload === undefined) return KEEP
      if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
        release(payload)
        return { kind: 'refuse', problem: refused(view, uninspectableError('a stream')) }
      }
      const read = readSerializedBody(payload, contentType, maxBodyBytes)
      if (read.kind === 'empty') return KEEP
      if (read.kind === 'uninspectable') {
        return { kind: 'refuse', problem: refused(view, read.error) }
      }
      const result = project(view, status, read.value)
      if (!result.ok) return { kind: 'refuse', problem: refusal(view, result) }
      const body = JSON.stringify(result.value)
      const replaced = { kind: 'replace' as const, body }
      if (meter === null) return replaced
      return charged(meter(view, status, { value: result.value, text: body }), replaced)
    },
    uninspectable(view: RequestView, what: string) {
      return refused(view, uninspectableError(what))
    },
  } satisfies ResponseRules)
}
