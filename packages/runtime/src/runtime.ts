import { errorBodiesOnly } from '@portcullis/allowlist/internal'
import type { CompiledAllowlist } from '@portcullis/allowlist'
import {
  andThen,
  answerUnknownRoute,
  errorProblem,
  type DecisionContext,
  type GuardLogger,
  type Pending,
  type ProblemToWrite,
  type RequestView,
  type Step,
} from '@portcullis/core/internal'
import { decideUnknownRoute, refuseUnguarded } from '@portcullis/policy/internal'
import { createAppLimits, type AppLimits } from '@portcullis/rate-limit/internal'
import {
  createAuthentication,
  createAuthenticator,
  buildVerifier,
  type Authenticate,
} from '@portcullis/tokens/internal'
import { resolveOptions, type ResolvedOptions } from './options.js'

// How long `ready()` waits for Redis to connect: Redis starting beside the app is common.
const REDIS_READY_WAIT_MS = 2000

/**
 * The guard of one app, framework-free: what every route of the app shares. An adapter creates it
 * once from the options, compiles each route with `planRoute`, and translates its requests into
 * `RequestView`s and the answers back.
 */
export interface GuardRuntime {
  readonly options: ResolvedOptions
  readonly log: GuardLogger
  readonly decision: DecisionContext
  /** Verifies the request's credentials (sets `view.principal`); `null` to go on, or the refusal. */
  readonly authenticate: Authenticate
  /** The app's rate limits; `undefined` without the `rateLimit` option. */
  readonly limits: AppLimits | undefined
  /** The allowlist of error bodies, for routes without `response` (`requireResponse: false`). */
  readonly errorsOnly: CompiledAllowlist
  /**
   * The answer to a URL no route serves, after authentication: `unknownRoutes`' 401 to anonymous
   * requests, else a problem+json 404 (never the application's not-found handler).
   */
  unknownRoute(view: RequestView): Pending
  /** The 403 of a request that reached a guard no route was bound to (declared after sealing). */
  readonly unbound: Step
  /** Every error as problem+json: a `PortcullisError`'s own problem, else a bare 500. */
  error(err: unknown): ProblemToWrite
  /** Resolves once the rate-limit store can answer, or after 2 seconds. */
  readonly ready: () => Promise<void>
  /** Releases what the runtime created (a Redis client made from a URL). */
  readonly close: () => Promise<void>
}

/**
 * Creates the runtime of one app from the guard's options (validated now: a bad one throws
 * `PCL_INVALID_OPTIONS` naming it).
 */
export function createGuardRuntime(input: unknown): GuardRuntime {
  const options = resolveOptions(input)
  const { log } = options
  const { telemetry } = options
  const authenticator = createAuthenticator(buildVerifier(options.tokens, telemetry))
  const decision: DecisionContext = {
    realm: authenticator.verifier.realm,
    audit: options.audit,
    callbackTimeout: options.callbackTimeout,
    telemetry,
    resourceMetadata: options.resourceMetadata?.url,
  }
  const authenticate = createAuthentication({
    authenticator,
    preAuth: options.preAuth,
    reportOnly: options.reportOnly.tokens,
    decision,
    log,
  })
  const limits = options.rateLimit && createAppLimits(options.rateLimit, log)
  const store = limits?.store
  // Started now: a client made from a URL connects while the app declares its routes.
  const started = store?.start(REDIS_READY_WAIT_MS)
  started?.catch((err: unknown) =>
    log.error({ err }, 'portcullis: the rate-limit Redis client failed'),
  )
  const unknown = answerUnknownRoute(
    options.unknownRoutes === 'unauthorized'
      ? decideUnknownRoute(decision, options.reportOnly)
      : null,
  )
  return Object.freeze({
    options,
    log,
    decision,
    authenticate,
    limits,
    errorsOnly: errorBodiesOnly(),
    unknownRoute: (view: RequestView) => andThen(authenticate(view), () => unknown(view)),
    unbound: refuseUnguarded(null, decision),
    error: (err: unknown) => errorProblem(err, decision, log),
    ready: async () => {
      await started
    },
    close: async () => {
      await started?.catch(() => undefined)
      await store?.close()
    },
  })
}
