import { isPortcullisConfigError, PortcullisConfigError } from '@portcullis/core'
import { parseGuard } from './compile-guard.js'
import { mergeGuards, normalizeGuard, type NormalizedGuard } from './normalized-guard.js'

/**
 * Validates the named policies of the plugin options (`policies: { readVideos: {...} }`) and
 * resolves their own `extends` chains, once. A bad policy, an unknown or circular `extends`
 * throws `PCL_INVALID_OPTIONS` naming `policies.<name>.<field>`.
 */
export function resolvePolicies(
  policies: Readonly<Record<string, unknown>> | undefined,
): ReadonlyMap<string, NormalizedGuard> {
  const resolved = new Map<string, NormalizedGuard>()
  if (policies === undefined) return resolved
  const resolving = new Set<string>()

  const resolve = (name: string): NormalizedGuard => {
    const done = resolved.get(name)
    if (done !== undefined) return done
    const site = { route: `policies.${name}` }
    if (resolving.has(name)) {
      throw new PortcullisConfigError(
        'PCL_INVALID_OPTIONS',
        `policies.${name}.extends forms a cycle (${[...resolving, name].join(' -> ')})`,
        { field: `policies.${name}.extends` },
      )
    }
    resolving.add(name)
    try {
      const parsed = parseGuard(policies[name], site, `policies.${name}`)
      let guard = normalizeGuard(parsed)
      if (parsed.extends !== undefined) {
        if (!Object.hasOwn(policies, parsed.extends)) {
          throw new PortcullisConfigError(
            'PCL_INVALID_OPTIONS',
            `policies.${name}.extends names no registered policy '${parsed.extends}'`,
            { field: `policies.${name}.extends` },
          )
        }
        guard = mergeGuards(resolve(parsed.extends), guard, {
          route: `policies.${name}`,
          base: `policy '${parsed.extends}'`,
          prefix: `policies.${name}`,
        })
      }
      resolved.set(name, Object.freeze(guard))
      return guard
    } catch (err) {
      // A policy is an option, not a route: report it as one.
      if (isPortcullisConfigError(err) && err.code === 'PCL_INVALID_GUARD') {
        throw new PortcullisConfigError(
          'PCL_INVALID_OPTIONS',
          err.message.replace(`${site.route}: `, ''),
          {
            ...(err.field === undefined ? {} : { field: err.field }),
            cause: err,
          },
        )
      }
      throw err
    } finally {
      resolving.delete(name)
    }
  }

  for (const name of Object.keys(policies)) resolve(name)
  return resolved
}
