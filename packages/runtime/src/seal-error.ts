import { PortcullisConfigError } from '@portcullis/core'
import { startupError } from '@portcullis/policy/internal'

/**
 * One error for everything wrong in an app at startup: every invalid guard (`PCL_INVALID_GUARD`)
 * and the routes no guard stands first on (`PCL_UNGUARDED_ROUTE`, each as `METHOD /path`, with
 * why when it helps); `undefined` when there is nothing.
 */
export function sealError(
  invalid: readonly PortcullisConfigError[],
  unguarded: readonly string[],
): PortcullisConfigError | undefined {
  const routes = [...new Set(unguarded)]
  const missing =
    routes.length === 0
      ? []
      : [
          new PortcullisConfigError(
            'PCL_UNGUARDED_ROUTE',
            [
              `${routes.length} route${routes.length === 1 ? ' has' : 's have'} no guard (deny by default):`,
              ...routes.map((route) => `  - ${route}`),
              "Put guard({...}) first in each route's handlers (guard({ public: '<reason>' }) for a route that needs no token).",
            ].join('\n'),
            { routes: routes.map((route) => route.replace(/ \(.*\)$/u, '')) },
          ),
        ]
  return startupError(invalid, missing)
}
