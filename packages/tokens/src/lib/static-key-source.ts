import { errors, type CompactJWSHeaderParameters, type KeyInput } from 'jose'
import { isSupportedAlgorithm } from './algorithms.js'
import { keyCanVerify, type InspectedKey } from './inspect-key.js'
import type { KeySource } from './key-source.js'

// jose's protocol for several candidate keys: the error iterates over them.
function severalKeys(candidates: readonly InspectedKey[]): errors.JWKSMultipleMatchingKeys {
  const error = new errors.JWKSMultipleMatchingKeys()
  Object.defineProperty(error, Symbol.asyncIterator, {
    value: async function* candidatesOf() {
      for (const candidate of candidates) yield await Promise.resolve(candidate.key)
    },
  })
  return error
}

/**
 * Keys given in the options (`keys`, or a `jwks` object): fixed for the verifier's lifetime, so
 * cached verifications never go stale because of them.
 */
export class StaticKeySource implements KeySource {
  readonly #keys: readonly InspectedKey[]

  constructor(keys: readonly InspectedKey[]) {
    this.#keys = keys
  }

  getKey(header: CompactJWSHeaderParameters): KeyInput {
    const { alg, kid } = header
    if (!isSupportedAlgorithm(alg)) throw new errors.JWKSNoMatchingKey()
    // A token's `kid` selects among keys that have one (RFC 7515 §4.1.4); a key configured without
    // a `kid` (a raw CryptoKey, KeyObject or secret) stays a candidate for any token.
    const fits = (key: InspectedKey): boolean =>
      keyCanVerify(key, alg) &&
      (typeof kid !== 'string' || key.kid === undefined || key.kid === kid)
    let found: InspectedKey | undefined
    for (const key of this.#keys) {
      if (!fits(key)) continue
      if (found !== undefined) throw severalKeys(this.#keys.filter(fits))
      found = key
    }
    if (found === undefined) throw new errors.JWKSNoMatchingKey()
    return found.key
  }

  generation(): number {
    return 0
  }

  isCurrent(): boolean {
    return true
  }
}
