import { exportSPKI, type JWTPayload } from 'jose'
import { isSymmetric, type TestAlgorithm } from './algorithms.js'
import { buildPayload, type MintOptions, type PayloadDefaults } from './claims.js'
import { rawToken, signJwt } from './sign.js'
import { generateSigningKey, type SigningKey } from './signing-key.js'
import { epochSeconds } from './time-span.js'

/**
 * Deliberately bad tokens for negative tests. Each is well formed and carries the issuer's
 * current `kid` and `typ: at+jwt`, so exactly one thing is wrong with it.
 */
export interface BadTokens {
  /** Signed correctly, but `exp` is one hour in the past (`iat` two hours ago unless given). */
  expired(claims?: MintOptions): Promise<string>
  /** Signed correctly, but `nbf` is one hour ahead (`exp` 5 minutes after that unless given). */
  notYetValid(claims?: MintOptions): Promise<string>
  /** Signed correctly, but `aud` is the issuer's audience with `-wrong` appended. */
  wrongAudience(claims?: MintOptions): Promise<string>
  /** Signed correctly, but `iss` is the issuer with `-wrong` appended. */
  wrongIssuer(claims?: MintOptions): Promise<string>
  /** Same `kid` and `alg` as the current key, signed by a key that is not in the JWKS. */
  wrongKey(claims?: MintOptions): Promise<string>
  /** Unsigned: header `{ alg: 'none', typ: 'at+jwt' }` and an empty signature segment. */
  algNone(claims?: MintOptions): Promise<string>
  /**
   * Algorithm confusion: HS256 with the current public key's SPKI PEM text as the HMAC secret and
   * the current `kid`. Rejects with a `TypeError` for an HS256 issuer (it has no public key).
   */
  hs256WithPublicKey(claims?: MintOptions): Promise<string>
}

/** What {@link createBadTokens} needs from its test issuer. */
export interface BadTokenContext {
  /** The issuer's `iss` and `aud` defaults. */
  readonly defaults: PayloadDefaults
  /** The issuer's algorithm. */
  readonly algorithm: TestAlgorithm
  /** The key the issuer signs with now. */
  current(): SigningKey
}

const HOUR = 3600
const DEFAULT_LIFETIME = 300

/** Creates the {@link BadTokens} minters of one test issuer. */
export function createBadTokens(context: BadTokenContext): BadTokens {
  const { defaults, algorithm } = context
  let rogue: Promise<SigningKey> | undefined

  const header = (alg: string, kid: string): { alg: string; typ: string; kid: string } => ({
    alg,
    typ: 'at+jwt',
    kid,
  })
  const signed = async (payload: JWTPayload): Promise<string> => {
    const key = context.current()
    return signJwt(payload, header(algorithm, key.kid), key.privateKey)
  }

  return {
    async expired(claims = {}) {
      const now = epochSeconds()
      return signed(buildPayload(defaults, { iat: now - 2 * HOUR, ...claims, exp: now - HOUR }))
    },
    async notYetValid(claims = {}) {
      const nbf = epochSeconds() + HOUR
      return signed(buildPayload(defaults, { exp: nbf + DEFAULT_LIFETIME, ...claims, nbf }))
    },
    async wrongAudience(claims = {}) {
      return signed(buildPayload(defaults, { ...claims, aud: `${defaults.audience}-wrong` }))
    },
    async wrongIssuer(claims = {}) {
      return signed(buildPayload(defaults, { ...claims, iss: `${defaults.issuer}-wrong` }))
    },
    async wrongKey(claims = {}) {
      const { kid } = context.current()
      rogue ??= generateSigningKey(algorithm)
      const { privateKey } = await rogue
      return signJwt(buildPayload(defaults, claims), header(algorithm, kid), privateKey)
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- async so misuse rejects
    async algNone(claims = {}) {
      return rawToken({ alg: 'none', typ: 'at+jwt' }, buildPayload(defaults, claims))
    },
    async hs256WithPublicKey(claims = {}) {
      const { kid, verificationKey } = context.current()
      if (isSymmetric(algorithm) || verificationKey instanceof Uint8Array) {
        throw new TypeError('hs256WithPublicKey needs an issuer with an asymmetric algorithm')
      }
      const pem = await exportSPKI(verificationKey)
      const secret = new TextEncoder().encode(pem)
      return signJwt(buildPayload(defaults, claims), header('HS256', kid), secret)
    },
  }
}
