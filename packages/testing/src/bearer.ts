/**
 * Builds an `authorization` header carrying `token` as a Bearer token, to spread into the headers
 * of `app.inject()`, `fetch` or supertest.
 *
 * @example
 * ```ts
 * await app.inject({ url: '/v1/videos/1', headers: bearer(await issuer.token()) })
 * ```
 */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}
