import { PortcullisConfigError } from '@portcullis/core'

/**
 * One startup error for every invalid route guard: the error itself when there is one, else a
 * `PCL_INVALID_GUARD` listing each message, with the first one's route and field and every
 * route in `routes`. Every adapter reports invalid guards this way, all at once.
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
    },
  )
}
