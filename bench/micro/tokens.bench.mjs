// Token verification, side by side in one process: a bare jose jwtVerify against our verifier
// with its cache off (a fresh verification every time) and on (a token seen before), and the
// peer: fast-jwt (what @fastify/jwt uses) with its cache off and on.
import { createVerifier } from '@portcullis/tokens'
import { createTestIssuer } from '@portcullis/testing'
import { createVerifier as createFastJwtVerifier } from 'fast-jwt'
import { createLocalJWKSet, exportSPKI, importJWK, jwtVerify } from 'jose'
import { Bench } from 'tinybench'

export async function tokensBench({ time }) {
  const issuer = await createTestIssuer({
    algorithm: 'ES256',
    issuer: 'https://bench.test',
    audience: 'api',
  })
  const token = await issuer.token({ sub: 'user-1', scope: 'videos:read', client_id: 'search-svc' })
  const jwks = createLocalJWKSet(issuer.jwks)
  const issuerOptions = {
    issuer: issuer.issuer,
    audience: issuer.audience,
    algorithms: ['ES256'],
    jwks: issuer.jwks,
  }
  const publicKey = await exportSPKI(await importJWK(issuer.jwks.keys[0], 'ES256'))
  const fastJwtOptions = {
    key: publicKey,
    algorithms: ['ES256'],
    allowedIss: issuer.issuer,
    allowedAud: issuer.audience,
  }
  const fastCold = createFastJwtVerifier({ ...fastJwtOptions, cache: false })
  const fastWarm = createFastJwtVerifier({ ...fastJwtOptions, cache: true })
  fastWarm(token)
  const cold = createVerifier({ issuers: [issuerOptions], cache: false })
  const warm = createVerifier({ issuers: [issuerOptions] })
  await warm.verify(token)

  const bench = new Bench({ name: 'token verification', time })
  bench
    .add('jose jwtVerify (baseline)', async () => {
      await jwtVerify(token, jwks, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ['ES256'],
      })
    })
    .add('portcullis verify, cold (cache off)', async () => {
      await cold.verify(token)
    })
    .add('portcullis verify, warm (cached)', () => {
      warm.verify(token)
    })
    .add('fast-jwt, cache off (peer)', () => {
      fastCold(token)
    })
    .add('fast-jwt, cache on (peer, warm)', () => {
      fastWarm(token)
    })
  await bench.run()
  const mean = (name) => bench.getTask(name).result.latency.mean
  const jose = mean('jose jwtVerify (baseline)')
  return {
    table: bench.table(),
    checks: [
      {
        what: 'fresh verification costs within 10% of a bare jwtVerify',
        value: `${((mean('portcullis verify, cold (cache off)') / jose - 1) * 100).toFixed(1)}% overhead`,
        ok: mean('portcullis verify, cold (cache off)') <= jose * 1.1,
      },
      {
        what: 'a cached token is at least 20x faster than a fresh jose verification',
        value: `${(jose / mean('portcullis verify, warm (cached)')).toFixed(0)}x faster`,
        ok: jose / mean('portcullis verify, warm (cached)') >= 20,
      },
      {
        what: 'a cached token costs less than fast-jwt with its cache on (the peer, warm)',
        value: `${(mean('fast-jwt, cache on (peer, warm)') / mean('portcullis verify, warm (cached)')).toFixed(1)}x faster`,
        ok: mean('portcullis verify, warm (cached)') < mean('fast-jwt, cache on (peer, warm)'),
      },
    ],
  }
}
