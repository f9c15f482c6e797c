import { PortcullisConfigError } from '@portcullis/core'
import { limitSignature, type RouteLimitPlan } from '../route/index.js'

/**
 * Where a route's counts live: `r\0GET /url\0` per method (HEAD counted as GET), or the named
 * bucket's `b\0name\0`. `template` is the route's URL template, with its constraints if any.
 * The same keys on every adapter, so services on either framework that share a Redis and a
 * bucket share its count.
 */
export function routeNamespace(
  template: string,
  bucket: string | null,
): (method: string) => string {
  if (bucket !== null) {
    const shared = `b\0${bucket}\0`
    return () => shared
  }
  const known = new Map<string, string>()
  return function namespaceOf(method) {
    let namespace = known.get(method)
    if (namespace === undefined) {
      namespace = `r\0${method === 'HEAD' ? 'GET' : method} ${template}\0`
      // Bounded: request methods are tokens the HTTP parser accepted, a short list in practice.
      if (known.size < 64) known.set(method, namespace)
    }
    return namespace
  }
}

/**
 * The named buckets of one app: one bucket is one count, so one limit. Returns the error for a
 * route that declares a bucket with another limit than the route that declared it first.
 */
export function createBuckets(): (
  label: string,
  plan: RouteLimitPlan,
) => PortcullisConfigError | null {
  const buckets = new Map<string, { readonly signature: string; readonly label: string }>()
  return function checkBucket(label, plan) {
    if (plan.kind !== 'limit' || plan.spec.bucket === null) return null
    const bucket = plan.spec.bucket
    const signature = limitSignature(plan.spec)
    const first = buckets.get(bucket)
    if (first === undefined) {
      buckets.set(bucket, { signature, label })
      return null
    }
    if (first.signature === signature) return null
    // Two limits on one count would make each route's limit a lie.
    return new PortcullisConfigError(
      'PCL_INVALID_GUARD',
      `${label}: guard.rateLimit.bucket '${bucket}' is declared with another limit by ${first.label}: routes sharing a bucket must declare the same max, timeWindow, key and overrides`,
      { route: label, field: 'guard.rateLimit.bucket' },
    )
  }
}
