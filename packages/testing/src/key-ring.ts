import type { JSONWebKeySet } from 'jose'
import type { TestAlgorithm } from './algorithms.js'
import { generateSigningKey, type SigningKey, type VerificationKey } from './signing-key.js'

/** How a {@link KeyRing} starts. */
export interface KeyRingOptions {
  /** The kid of the first key; random by default. */
  kid?: string | undefined
  /** For HS256: publish the secrets as `oct` JWKs. */
  exposeSecret?: boolean | undefined
}

/**
 * The keys a test issuer publishes and the one it currently signs with, with rotation: keys can
 * be published ahead of use ({@link KeyRing.add}) and the signer switched later
 * ({@link KeyRing.rotate}).
 */
export class KeyRing {
  readonly #alg: TestAlgorithm
  readonly #exposeSecret: boolean
  #published: SigningKey[]
  #current: SigningKey
  /** Published keys that have never signed, oldest first: `rotate()` switches to these first. */
  #pending: SigningKey[] = []

  private constructor(alg: TestAlgorithm, exposeSecret: boolean, first: SigningKey) {
    this.#alg = alg
    this.#exposeSecret = exposeSecret
    this.#published = [first]
    this.#current = first
  }

  /** Creates a ring holding one freshly generated signing key. */
  static async create(alg: TestAlgorithm, options: KeyRingOptions = {}): Promise<KeyRing> {
    const exposeSecret = options.exposeSecret === true
    const first = await generateSigningKey(alg, { kid: options.kid, exposeSecret })
    return new KeyRing(alg, exposeSecret, first)
  }

  /** The key that signs tokens now. */
  get current(): SigningKey {
    return this.#current
  }

  /** Verification keys of every published key, in publication order (a fresh array). */
  get verificationKeys(): VerificationKey[] {
    return this.#published.map((key) => key.verificationKey)
  }

  /** The public JWKS of the published keys (a fresh deep copy). */
  jwks(): JSONWebKeySet {
    const keys = this.#published.flatMap((key) => (key.jwk === undefined ? [] : [key.jwk]))
    return structuredClone({ keys })
  }

  /** Generates and publishes a new key without signing with it; returns it. */
  async add(): Promise<SigningKey> {
    const key = await this.#generate()
    this.#published.push(key)
    this.#pending.push(key)
    return key
  }

  /**
   * Switches the signer to the oldest key published by {@link KeyRing.add} that has not signed
   * yet, or to a newly generated one, and unpublishes the previous signer.
   */
  async rotate(): Promise<SigningKey> {
    const next = this.#pending.shift() ?? (await this.#generate())
    const previous = this.#current
    this.#published = this.#published.filter((key) => key !== previous)
    if (!this.#published.includes(next)) this.#published.push(next)
    this.#current = next
    return next
  }

  async #generate(): Promise<SigningKey> {
    return generateSigningKey(this.#alg, { exposeSecret: this.#exposeSecret })
  }
}
