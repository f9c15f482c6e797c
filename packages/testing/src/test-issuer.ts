import type { JSONWebKeySet } from 'jose'
import { isTestAlgorithm, type TestAlgorithm } from './algorithms.js'
import { createBadTokens, type BadTokens } from './bad-tokens.js'
import { buildPayload, type MintOptions } from './claims.js'
import { createJwksServer, type JwksBehavior } from './jwks-server.js'
import { KeyRing } from './key-ring.js'
import { signJwt } from './sign.js'
import type { VerificationKey } from './signing-key.js'

/** Options of {@link createTestIssuer}. */
export interface TestIssuerOptions {
  /** The signing algorithm; default `'ES256'`. HS256 signs with a random 32-byte secret. */
  algorithm?: TestAlgorithm
  /** The `iss` claim; default `'https://issuer.test'`. */
  issuer?: string
  /** The `aud` claim; default `'test-api'`. */
  audience?: string
  /** The kid of the first key; default random (the RFC 7638 thumbprint; a UUID for HS256). */
  kid?: string
  /**
   * For HS256 only: publish the secret as an `oct` JWK in the JWKS. By default the JWKS of an
   * HS256 issuer is empty and the secret is only in `publicKeys`.
   */
  exposeSecret?: boolean
}

/**
 * An in-process token issuer for tests: keys, a JWKS (as an object or served on loopback),
 * token minting, deliberately bad tokens, rotation, and fault injection for the JWKS endpoint.
 */
export interface TestIssuer {
  /** The `iss` of minted tokens. */
  readonly issuer: string
  /** The `aud` of minted tokens. */
  readonly audience: string
  /** The signing algorithm. */
  readonly algorithm: TestAlgorithm
  /** The kid of the current signing key. */
  readonly kid: string
  /**
   * The public JWKS of the published keys, a fresh copy on each access; each JWK has `kid`,
   * `alg` and `use: 'sig'`.
   */
  readonly jwks: JSONWebKeySet
  /** The verification keys of the published keys (public keys; for HS256 the secret bytes). */
  readonly publicKeys: VerificationKey[]
  /**
   * Mints an access token signed with the current key: `iat` now, `exp` in 5 minutes, header
   * `{ alg, typ: 'at+jwt', kid }`. `header` adds to or overrides the protected header (e.g.
   * `{ jku: '...' }`, `{ crit: ['x'], x: 1 }`, `{ typ: undefined }` to leave `typ` out).
   */
  token(claims?: MintOptions, header?: Record<string, unknown>): Promise<string>
  /** Deliberately bad tokens for negative tests. */
  readonly bad: BadTokens
  /**
   * Switches to a new signing key (new kid) and removes the previous one from the JWKS. The new
   * key is the oldest one published by `addKey()` that has not signed yet, else a fresh one.
   */
  rotate(): Promise<void>
  /**
   * Publishes an extra key without switching the signer and returns its kid; the next `rotate()`
   * switches to it (publish first, switch later).
   */
  addKey(): Promise<string>
  /** Serves the JWKS on `127.0.0.1` (random port) and returns its URI; idempotent. */
  listen(): Promise<string>
  /** Stops the JWKS server if it runs; idempotent. */
  close(): Promise<void>
  /** How many requests for the JWKS the server has received (to assert cooldowns, no hammering). */
  readonly jwksRequests: number
  /** Body bytes the JWKS server has sent, over every answer (to assert a client hung up early). */
  readonly jwksBytesSent: number
  /**
   * Sets how the served JWKS endpoint answers from the next request on (fault injection:
   * `'down'`, `'slow'`, `'garbage'`, `'huge'` and the forms {@link JwksBehavior} lists); `'ok'`
   * restores it.
   */
  setJwksBehavior(behavior: JwksBehavior): void
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`createTestIssuer: ${name} must be a non-empty string`)
  }
  return value
}

/**
 * Creates a {@link TestIssuer} with one fresh key.
 *
 * @example
 * ```ts
 * const issuer = await createTestIssuer({ audience: 'videos-api' })
 * const token = await issuer.token({ scope: ['videos:read'], client_id: 'search-svc' })
 * await jwtVerify(token, createLocalJWKSet(issuer.jwks), { issuer: issuer.issuer })
 * ```
 */
export async function createTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const algorithm = options.algorithm ?? 'ES256'
  if (!isTestAlgorithm(algorithm)) {
    throw new TypeError(`createTestIssuer: unsupported algorithm ${JSON.stringify(algorithm)}`)
  }
  const issuer = nonEmpty('issuer', options.issuer ?? 'https://issuer.test')
  const audience = nonEmpty('audience', options.audience ?? 'test-api')
  const kid = options.kid === undefined ? undefined : nonEmpty('kid', options.kid)
  const defaults = { issuer, audience }

  const ring = await KeyRing.create(algorithm, { kid, exposeSecret: options.exposeSecret })
  const server = createJwksServer(() => ring.jwks())
  const bad = createBadTokens({ defaults, algorithm, current: () => ring.current })

  return Object.freeze({
    issuer,
    audience,
    algorithm,
    get kid() {
      return ring.current.kid
    },
    get jwks() {
      return ring.jwks()
    },
    get publicKeys() {
      return ring.verificationKeys
    },
    async token(claims: MintOptions = {}, header: Record<string, unknown> = {}) {
      const key = ring.current
      const payload = buildPayload(defaults, claims)
      const protectedHeader = { alg: key.alg, typ: 'at+jwt', kid: key.kid, ...header }
      return signJwt(payload, protectedHeader, key.privateKey)
    },
    bad,
    async rotate() {
      await ring.rotate()
    },
    async addKey() {
      return (await ring.add()).kid
    },
    listen: () => server.listen(),
    close: () => server.close(),
    get jwksRequests() {
      return server.requests
    },
    get jwksBytesSent() {
      return server.bytesSent
    },
    setJwksBehavior: (behavior: JwksBehavior) => server.setBehavior(behavior),
  })
}
