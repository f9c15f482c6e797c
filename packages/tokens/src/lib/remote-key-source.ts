import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  jwksCache,
  type CompactJWSHeaderParameters,
  type JSONWebKeySet,
  type JWKSCacheInput,
  type KeyInput,
} from 'jose'
import { fetchJwks } from './fetch-jwks.js'
import { JwksFetchError, type KeySource } from './key-source.js'

/** Settings of one remote key set, all durations in milliseconds. */
export interface RemoteKeySourceOptions {
  readonly url: string
  readonly cooldown: number
  readonly cacheMaxAge: number
  readonly timeout: number
  readonly maxBytes: number
  readonly staleIfError: number
  /** Told of each fetch: `null` when it succeeded, else the failure's reason (`timeout`). */
  readonly onFetch?: ((failure: string | null) => void) | undefined
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>

// A key set has a few keys, each picked for a few algs: more picks than this are tokens naming
// kids at random (each a miss of jose's, never remembered), or a set too large to remember.
const MAX_PICKS = 64

// What jose picks a key by (its local set reads `alg` and `kid` of the header, nothing else),
// as a map key that no other pair spells (an absent kid is not an empty one); `undefined` for a
// header whose fields are not strings, left to jose.
function pickOf(header: CompactJWSHeaderParameters): string | undefined {
  const { alg, kid } = header
  if (typeof alg !== 'string') return undefined
  if (kid === undefined) return `${alg.length}:${alg}`
  return typeof kid === 'string' ? `${alg.length}:${alg}#${kid}` : undefined
}

/**
 * A `jwksUri` key set: jose's `createRemoteJWKSet` (caching, refetch on an unknown `kid` at most
 * once per cooldown, timeout, concurrent fetches shared), wrapped to close what it leaves open:
 *
 * - a failed fetch is remembered for `cooldown` and not retried before (jose retries on every
 *   call while its cache is stale, so an outage would turn each request into a fetch);
 * - the response is size-limited while it streams (jose reads any length);
 * - keys fetched earlier keep verifying for `staleIfError` past `cacheMaxAge` when a refresh
 *   fails (jose throws as soon as a refresh after `cacheMaxAge` fails).
 */
export class RemoteKeySource implements KeySource {
  readonly #options: RemoteKeySourceOptions
  // jose writes the last applied JWKS and its time here (its `jwksCache` option).
  readonly #cache: { uat?: number; jwks?: JSONWebKeySet } = {}
  readonly #remote: ReturnType<typeof createRemoteJWKSet>
  #failure: { at: number; error: JwksFetchError } | undefined
  #seenUat: number | undefined
  #seenKeys: ReadonlySet<string> | undefined
  #generation = 0
  #stale: { uat: number; keys: LocalKeySet } | undefined
  // The keys jose picked from the key set `#pickedFrom` (the object jose wrote to the cache when
  // it fetched it), by alg and kid.
  readonly #picked = new Map<string, KeyInput>()
  #pickedFrom: JSONWebKeySet | undefined

  constructor(options: RemoteKeySourceOptions) {
    this.#options = options
    this.#remote = createRemoteJWKSet(new URL(options.url), {
      timeoutDuration: options.timeout,
      cooldownDuration: options.cooldown,
      cacheMaxAge: options.cacheMaxAge,
      [jwksCache]: this.#cache as JWKSCacheInput,
      [customFetch]: (url, init) => this.#fetch(url, init),
    })
  }

  /**
   * The key for a header: the one jose picked for the same `alg` and `kid` from the key set it
   * holds now, while that set is fresh (no fetch or refresh would happen), without a tick; else
   * jose's answer. jose picks from those two fields only, so the answer cannot differ.
   */
  getKey(header: CompactJWSHeaderParameters): Promise<KeyInput> | KeyInput {
    const pick = pickOf(header)
    const { uat, jwks } = this.#cache
    if (
      pick !== undefined &&
      uat !== undefined &&
      jwks !== undefined &&
      jwks === this.#pickedFrom
    ) {
      const key = this.#picked.get(pick)
      if (key !== undefined && Date.now() < uat + this.#options.cacheMaxAge) return key
    }
    return this.#jose(header, pick)
  }

  async #jose(header: CompactJWSHeaderParameters, pick: string | undefined): Promise<KeyInput> {
    // The set jose holds when asked: a key is remembered only if jose picked it from that set
    // and no other fetch replaced it meanwhile (a key a concurrent refresh removed is never kept).
    const asked = this.#cache.jwks
    let key: KeyInput
    try {
      key = await this.#remote(header)
    } catch (err) {
      if (!(err instanceof JwksFetchError)) throw err
      const stale = this.#staleKeys(Date.now())
      if (stale === undefined) throw err
      try {
        return await stale(header)
      } catch (staleError) {
        // The key may be in the set we could not fetch: keys are unavailable, not the token bad.
        if (staleError instanceof errors.JWKSNoMatchingKey) throw err
        throw staleError
      }
    }
    // Remembered for the set jose holds now; a new set (a refresh, a kid fetched) starts afresh.
    const { jwks } = this.#cache
    if (pick !== undefined && jwks !== undefined && jwks === asked) {
      if (jwks !== this.#pickedFrom) {
        this.#picked.clear()
        this.#pickedFrom = jwks
      }
      if (this.#picked.size < MAX_PICKS) this.#picked.set(pick, key)
    }
    return key
  }

  generation(): number {
    const uat = this.#cache.uat
    if (uat !== this.#seenUat) this.#observe(uat)
    return this.#generation
  }

  isCurrent(now: number): boolean {
    const uat = this.#cache.uat
    if (uat === undefined) return false
    const { cacheMaxAge, cooldown, staleIfError } = this.#options
    if (now < uat + cacheMaxAge) return true
    // Past cacheMaxAge a hit must go through jose so that it refreshes; while a failed refresh is
    // cooling down there is nothing to gain from that, and the stale keys are still allowed.
    const failure = this.#failure
    return (
      failure !== undefined && now < failure.at + cooldown && now < uat + cacheMaxAge + staleIfError
    )
  }

  #observe(uat: number | undefined): void {
    this.#seenUat = uat
    const keys = new Set((this.#cache.jwks?.keys ?? []).map((jwk) => JSON.stringify(jwk)))
    const previous = this.#seenKeys
    this.#seenKeys = keys
    if (previous === undefined) return
    for (const jwk of previous) {
      if (!keys.has(jwk)) {
        this.#generation++
        return
      }
    }
  }

  #staleKeys(now: number): LocalKeySet | undefined {
    const { uat, jwks } = this.#cache
    if (uat === undefined || jwks === undefined) return undefined
    if (now >= uat + this.#options.cacheMaxAge + this.#options.staleIfError) return undefined
    if (this.#stale?.uat !== uat) this.#stale = { uat, keys: createLocalJWKSet(jwks) }
    return this.#stale.keys
  }

  async #fetch(url: string, init: Parameters<typeof fetchJwks>[1]): Promise<Response> {
    const { cooldown, maxBytes } = this.#options
    const failure = this.#failure
    if (failure !== undefined && Date.now() < failure.at + cooldown) {
      throw new JwksFetchError(
        failure.error.reason,
        'JWKS endpoint failed recently; cooling down',
        {
          cause: failure.error,
        },
      )
    }
    try {
      const body = await fetchJwks(url, init, maxBytes)
      this.#failure = undefined
      this.#options.onFetch?.(null)
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } })
    } catch (err) {
      const error =
        err instanceof JwksFetchError
          ? err
          : new JwksFetchError('network', 'JWKS request failed', { cause: err })
      this.#failure = { at: Date.now(), error }
      this.#options.onFetch?.(error.reason)
      throw error
    }
  }
}
