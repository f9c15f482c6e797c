import { isIPv6 } from 'node:net'
import { Address6 } from 'ip-address'
import type { Principal } from '@portcullis/core'
import type { RateLimitKey, RateLimitRequest } from '../options/rate-limit-options.js'

/**
 * The counting key of a client address. IPv6 addresses count per /64 (as `@fastify/rate-limit`'s
 * `normalizeIP` counts them, with the same `ip-address` parser, without loading the Fastify
 * plugin), because one host usually holds a whole /64 and could rotate through it; IPv4-mapped
 * addresses count as their IPv4 address. IPv4 skips the parsing.
 */
export function ipKey(ip: string | undefined): string {
  if (ip === undefined || ip === '') return 'unknown'
  if (!ip.includes(':')) return ip
  if (!isIPv6(ip)) return ip.toLowerCase()
  const address = new Address6(ip)
  if (address.isMapped4()) return address.to4().correctForm()
  return new Address6(`${ip}/64`).startAddress().correctForm()
}

/**
 * What a counting key is built from: the verified principal (`null` without a token), the client
 * address, and the framework's request, which key functions receive.
 */
export interface KeyedRequest {
  readonly principal: Principal | null
  readonly ip: string | undefined
  readonly native: unknown
}

/** Builds the counting key of a request; it may throw (a key function that throws). */
export type KeyOf = (request: KeyedRequest) => string

// Each kind of key has its own tag, so a subject that happens to look like an IP or a client id
// never shares a count with it; NUL cannot occur in a URL template or in an IP address.
function byIp(request: KeyedRequest): string {
  return `i\0${ipKey(request.ip)}`
}

function byPrincipal(request: KeyedRequest): string {
  const principal = request.principal
  // Only in report-only rollouts does a guarded route run without a principal: count by IP.
  if (principal == null) return byIp(request)
  return `p\0${principal.issuer}\0${principal.subject}`
}

function byClient(request: KeyedRequest): string {
  const principal = request.principal
  if (principal == null) return byIp(request)
  if (principal.clientId === null) return byPrincipal(request)
  // Client ids are unique per issuer only.
  return `c\0${principal.issuer}\0${principal.clientId}`
}

/** The key builder of a `key` option, compiled once per route; the same in every adapter. */
export function keyOf(key: RateLimitKey): KeyOf {
  if (key === 'ip') return byIp
  if (key === 'principal') return byPrincipal
  if (key === 'client') return byClient
  const custom = key
  return function byKeyFunction(request) {
    const principal = request.principal
    if (principal == null) return byIp(request)
    const value: unknown = custom(principal, request.native as RateLimitRequest)
    if (typeof value !== 'string') {
      throw new TypeError(`the rate-limit key function returned ${typeof value}, not a string`)
    }
    // An empty key would put every caller in one bucket: one noisy caller locks everyone out,
    // or the limit stops meaning anything. Refused, like a key function that throws.
    if (value.trim() === '') {
      throw new TypeError('the rate-limit key function returned an empty string')
    }
    return `f\0${value}`
  }
}

/**
 * `build` remembered for the last principal when the key is the principal or its client: a cached
 * token hands every request the same frozen principal, so a run of requests from one caller
 * builds its counting key once, and a map lookup on that string needs no new hash. One slot, not
 * a `WeakMap`: a weak entry per principal outlives the young generation with every principal the
 * token cache keeps, and costs the garbage collector more per fresh token than building the key
 * (about 0.15 µs) costs per request. A key function runs on every request (it may read the
 * request); an IP key is not remembered.
 */
export function keyPerPrincipal(
  key: RateLimitKey,
  build: (request: KeyedRequest) => string,
): (request: KeyedRequest) => string {
  if (key !== 'principal' && key !== 'client') return build
  let last: Principal | null = null
  let built = ''
  return function keyOfPrincipal(request) {
    const { principal } = request
    if (principal === null) return build(request)
    if (principal !== last) {
      built = build(request)
      last = principal
    }
    return built
  }
}
