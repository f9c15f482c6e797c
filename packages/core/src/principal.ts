/**
 * Claims of a verified token, as an application sees them. Augment it to type your own claims:
 *
 * @example
 * ```ts
 * declare module '@portcullis/core' {
 *   interface PrincipalClaims { tenant_id: string }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface PrincipalClaims {}

/**
 * Who is calling: built only from a verified access token, and frozen.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md
 */
export interface Principal {
  /** The token's `sub`. */
  readonly subject: string
  /** The token's verified `iss`. */
  readonly issuer: string
  /** The OAuth client that obtained the token: `client_id` (RFC 9068) or `azp`; `null` if neither. */
  readonly clientId: string | null
  /**
   * Scopes from the issuer's scope claim: `scope` (a space-delimited string, RFC 9068 §2.2.3) by
   * default, or `scp` (an array or a space-delimited string) for an issuer with `scopeClaim: 'scp'`.
   */
  readonly scopes: ReadonlySet<string>
  /** Every verified claim of the token payload. */
  readonly claims: Readonly<PrincipalClaims & Record<string, unknown>>
}
