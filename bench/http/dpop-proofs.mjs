// DPoP proofs for the benchmark's DPoP scenario. Every request needs a proof of its own (a new
// jti: a replayed one is refused), so proofs are signed here, in the parent, before each measured
// run: the figure is the server's cost of verifying them, never the client's cost of signing.
import { createHash, randomUUID } from 'node:crypto'
import { importJWK, SignJWT } from 'jose'

/** A signer for `server`'s DPoP client key (its `dpopKey`, a private JWK) and warm token. */
export async function proofSigner(server) {
  const privateKey = await importJWK(server.dpopKey, 'ES256')
  const { kty, crv, x, y } = server.dpopKey
  const jwk = { kty, crv, x, y }
  const ath = createHash('sha256').update(server.warm).digest('base64url')
  const htu = (path) => `http://127.0.0.1:${server.port}${path}`
  const sign = (path) =>
    new SignJWT({ htm: 'GET', htu: htu(path), ath, jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .setIssuedAt()
      .sign(privateKey)
  return {
    /** One proof for a GET of `path`. */
    one: sign,
    /** `count` proofs for GETs of `path`, signed in batches (jose signs asynchronously). */
    async many(path, count) {
      const proofs = []
      for (let i = 0; i < count; i += 500) {
        const batch = []
        for (let j = i; j < Math.min(count, i + 500); j++) batch.push(sign(path))
        proofs.push(...(await Promise.all(batch)))
      }
      return proofs
    },
  }
}
