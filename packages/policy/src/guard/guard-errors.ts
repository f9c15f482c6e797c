import { PortcullisConfigError, type CodeOfKind } from '@portcullis/core'

/**
 * One startup error for every invalid route guard: the error itself when there is one, else a
 * `PCL_INVALID_GUARD` listing each message, with the first one's route and field, every route in
 * `routes` and each error in `errors`. Every adapter reports invalid guards this way, all at once.
 */
export function invalidGuardsError(
  errors: readonly PortcullisConfigError[],
): PortcullisConfigError | undefined {
  const first = errors[0]
  if (first === undefined || errors.length === 1) return first
  return new PortcullisConfigError(
    'PCL_INVALID_GUARD',
    `${errors.length} route guards are invalid:\n${errors.map((e) => `  - ${e.message}`).join('\n')}`,
    {
      ...(first.route === undefined ? {} : { route: first.route }),
      ...(first.field === undefined ? {} : { field: first.field }),
      routes: errors.flatMap((e) => (e.route === undefined ? [] : [e.route])),
      errors,
    },
  )
}

/**
 * The one error startup fails with: every invalid guard (first, as `PCL_INVALID_GUARD`) and every
 * other finding (unguarded routes, hooks that run before the guard), so that fixing one never
 * reveals the next. `errors` holds each finding, an invalid guard per route; `routes` every route
 * concerned. `undefined` when there is nothing to report.
 */
export function startupError(
  invalidGuards: readonly PortcullisConfigError[],
  others: readonly PortcullisConfigError[],
): PortcullisConfigError | undefined {
  const guards = invalidGuardsError(invalidGuards)
  const reported = guards === undefined ? [...others] : [guards, ...others]
  const first = reported[0]
  if (first === undefined || reported.length === 1) return first
  return new PortcullisConfigError(
    first.code as CodeOfKind<'config'>,
    reported.map((e) => e.message).join('\n'),
    {
      ...(first.route === undefined ? {} : { route: first.route }),
      ...(first.field === undefined ? {} : { field: first.field }),
      routes: [...new Set(reported.flatMap((e) => e.routes))],
      errors: [...invalidGuards, ...others],
    },
  )
}
