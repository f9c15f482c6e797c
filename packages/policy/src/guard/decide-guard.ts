import {
  AuthenticationError,
  AuthorizationError,
  type AuditReason,
  type GuardRequest,
  type PortcullisError,
  type Principal,
} from '@portcullis/core'
import type { CompiledGuard } from './compile-guard.js'

/** Report-only settings of an adapter (the `reportOnly` option, resolved). */
export interface ReportOnlySettings {
  /** Policy denials are reported, not enforced (unless a route says `reportOnly: false`). */
  readonly policy: boolean
  /** Requests without a token on non-public routes are reported, not refused. */
  readonly tokens: boolean
}

/**
 * What a guard decided for one request:
 * - `allow`: serve it (`reason` is `PCL_PUBLIC` or `PCL_ALLOWED`);
 * - `deny`: refuse it with `error`;
 * - `report`: report-only mode, emit the denial `error` would be and serve the request.
 */
export type GuardOutcome =
  | { readonly kind: 'allow'; readonly reason: AuditReason }
  | { readonly kind: 'deny' | 'report'; readonly error: PortcullisError }

const PUBLIC: GuardOutcome = Object.freeze({ kind: 'allow', reason: 'PCL_PUBLIC' })
const ALLOWED: GuardOutcome = Object.freeze({ kind: 'allow', reason: 'PCL_ALLOWED' })

function checkThrew(cause: unknown): AuthorizationError {
  return new AuthorizationError('PCL_CHECK_DENIED', { cause })
}

/**
 * Decides a request against a compiled guard, the same way in every adapter: a public route
 * allows; a missing principal is `PCL_TOKEN_MISSING` (before any rule); then the compiled rules.
 * A `check` that throws or rejects is a `PCL_CHECK_DENIED` whose `cause` the adapter logs server
 * side. Synchronous unless a `check` is async.
 *
 * @example
 * ```ts
 * const outcome = await decideGuard(compiled, request.principal, request, { policy: false, tokens: false })
 * if (outcome.kind === 'deny') refuse(outcome.error)
 * ```
 */
export function decideGuard(
  compiled: CompiledGuard,
  principal: Principal | null | undefined,
  request: GuardRequest,
  reportOnly: ReportOnlySettings,
): GuardOutcome | Promise<GuardOutcome> {
  if (compiled.public !== null) return PUBLIC
  const report = compiled.reportOnly
  // `principal` is undefined when no token verifier ran: fail closed all the same.
  if (principal == null) {
    const missing = new AuthenticationError('PCL_TOKEN_MISSING')
    return { kind: reportOnly.tokens && report ? 'report' : 'deny', error: missing }
  }
  const decided = (denial: PortcullisError | null): GuardOutcome =>
    denial === null ? ALLOWED : { kind: report ? 'report' : 'deny', error: denial }
  let decision
  try {
    decision = compiled.evaluate(principal, request)
  } catch (err) {
    return decided(checkThrew(err))
  }
  if (decision instanceof Promise) {
    return decision.then(decided, (err: unknown) => decided(checkThrew(err)))
  }
  return decided(decision)
}
