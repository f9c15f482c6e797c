import type { PortcullisConfigError } from '@portcullis/core'
import type { DenialWatch, Meter, Pending, RequestView } from '@portcullis/core/internal'
import type { CompiledGuard } from '../guard/index.js'
import type { LimitExposure, ResponseExposure } from '../inventory/index.js'

/** Where the policy plugin leaves a route's state on its route options, for later plugins. */
export const kRouteState = Symbol.for('portcullis.routeState')

/** An inventory column other plugins fill in. */
export type AnnotatedField = 'rateLimit' | 'response' | 'body' | 'budget' | 'enumeration'

/** The structured detail a plugin reports beside a column's summary, for the register. */
export interface AnnotationDetail {
  readonly rateLimit: LimitExposure
  readonly response: ResponseExposure
  readonly body: never
  readonly budget: never
  readonly enumeration: never
}

/**
 * What the policy plugin knows of a route, handed to the plugins registered after it (rate
 * limit, allowlist) through the route options their `onRoute` hooks receive.
 */
export interface RouteState {
  /** The compiled guard (after `extends` and prefix defaults), or `null` for an unguarded route. */
  readonly compiled: CompiledGuard | null
  /** The application's scopes, when the plugin options declare them (`knownScopes`). */
  readonly knownScopes: ReadonlySet<string> | undefined
  readonly url: string
  readonly methods: readonly string[]
  /** `METHOD /url`, as errors name the route. */
  readonly label: string
  /**
   * Sets the inventory column a plugin owns (a readable summary) and, for the register, what it
   * enforces (`detail`).
   */
  annotate<F extends AnnotatedField>(field: F, summary: string, detail?: AnnotationDetail[F]): void
  /** Records a configuration error; `app.ready()` reports it with every other one. */
  reportError(error: PortcullisConfigError): void
  /**
   * Adds a step the route's guard runs once its decision allows (the rate limit), in the guard's
   * own hook: before any application hook, never as a hook of its own an application hook could
   * run before.
   */
  addStep(step: (view: RequestView) => Pending): void
  /**
   * Adds a meter (an egress budget); the allowlist plugin, registered after, runs it on every
   * success body. After the allowlist took the meters, it records a configuration error instead:
   * the budget would never be charged.
   */
  addMeter(meter: Meter): void
  /**
   * What charges the route's projected success bodies (egress budgets), in order: the allowlist
   * plugin takes them when it compiles the route's response rules.
   */
  takeMeters(): readonly Meter[]
  /** Puts the app's denial-burst lockout in front of the route's decision. */
  watchDenials(watch: DenialWatch): void
}

/** The route state the policy plugin left on these route options, if it saw the route. */
export function routeStateOf(routeOptions: object): RouteState | undefined {
  return (routeOptions as { [kRouteState]?: RouteState })[kRouteState]
}
