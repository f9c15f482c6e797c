// Token verification, side by side in one process, on distinct tokens (no cache and no
// single-flight can serve a verification twice), 50 at a time: the signature primitives (Node's
// crypto.verify on a KeyObject, WebCrypto's subtle.verify), jose's jwtVerify, fast-jwt without
// its cache (what @fastify/jwt uses), and our verifier with its cache off; then the same with
// random signatures (refused); then a token seen before (our cache, fast-jwt's cache).
//
// Figures are CPU time per verification (the whole process, libuv's thread pool included, which
// is where WebCrypto's work goes) beside wall time: WebCrypto looks fast on the wall clock by
// borrowing another core.
import { createPublicKey, createVerify, randomBytes, webcrypto } from 'node:crypto'
import { cpuUsage } from 'node:process'
import { createVerifier } from '@portcullis/tokens'
import { createTestIssuer } from '@portcullis/testing'
import { createVerifier as createFastJwtVerifier } from 'fast-jwt'
import { createLocalJWKSet, exportSPKI, importJWK, jwtVerify } from 'jose'

const CONCURRENCY = 50

/** Runs `verify` over `tokens`, CONCURRENCY at a time: CPU and wall µs per verification. */
async function measure(verify, tokens) {
  let next = 0
  let refused = 0
  const cpuBefore = cpuUsage()
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < tokens.length) {
        const token = tokens[next++]
        try {
          await verify(token)
        } catch {
          refused++
        }
      }
    }),
  )
  const wall = performance.now() - started
  const cpu = cpuUsage(cpuBefore)
  return {
    cpu: (cpu.user + cpu.system) / tokens.length,
    wall: (wall * 1000) / tokens.length,
    refused,
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1]

export async function tokensBench({ time }) {
  // About `time` ms of jose verifications per task and round.
  const count = Math.max(300, Math.round(time * 8))
  const rounds = 5
  const issuer = await createTestIssuer({
    algorithm: 'ES256',
    issuer: 'https://bench.test',
    audience: 'api',
  })
  const claims = (sub) => ({ sub, scope: 'videos:read', client_id: 'search-svc' })
  const tokens = []
  for (let i = 0; i < count; i += 500) {
    const batch = []
    for (let j = i; j < Math.min(count, i + 500); j++) batch.push(issuer.token(claims(`u-${j}`)))
    tokens.push(...(await Promise.all(batch)))
  }
  const forged = tokens.map((token) => {
    const dot = token.lastIndexOf('.')
    return `${token.slice(0, dot + 1)}${randomBytes(64).toString('base64url')}`
  })
  const [jwk] = issuer.jwks.keys
  const keyObject = createPublicKey({ key: jwk, format: 'jwk' })
  const cryptoKey = await importJWK(jwk, 'ES256')
  const jwks = createLocalJWKSet(issuer.jwks)
  const fastJwtOptions = {
    key: await exportSPKI(cryptoKey),
    algorithms: ['ES256'],
    allowedIss: issuer.issuer,
    allowedAud: issuer.audience,
  }
  const fastCold = createFastJwtVerifier({ ...fastJwtOptions, cache: false })
  const fastWarm = createFastJwtVerifier({ ...fastJwtOptions, cache: true })
  const issuerOptions = {
    issuer: issuer.issuer,
    audience: issuer.audience,
    algorithms: ['ES256'],
    jwks: issuer.jwks,
  }
  const cold = createVerifier({ issuers: [issuerOptions], cache: false })
  const warm = createVerifier({ issuers: [issuerOptions] })
  const parts = (token) => {
    const dot = token.lastIndexOf('.')
    return [Buffer.from(token.slice(0, dot)), Buffer.from(token.slice(dot + 1), 'base64url')]
  }
  const tasks = {
    // Node's streaming Verify, as fast-jwt and the verifier check: cheaper than the one-shot
    // crypto.verify, which builds a job object per call.
    'node crypto Verify on a KeyObject (the floor)': (token) => {
      const [input, signature] = parts(token)
      const options = { key: keyObject, dsaEncoding: 'ieee-p1363' }
      if (!createVerify('sha256').update(input).verify(options, signature)) {
        throw new Error('bad signature')
      }
    },
    'WebCrypto subtle.verify': async (token) => {
      const [input, signature] = parts(token)
      const ecdsa = { name: 'ECDSA', hash: 'SHA-256' }
      if (!(await webcrypto.subtle.verify(ecdsa, cryptoKey, signature, input))) {
        throw new Error('bad signature')
      }
    },
    'jose jwtVerify': (token) =>
      jwtVerify(token, jwks, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ['ES256'],
      }),
    'fast-jwt, cache off (peer)': (token) => fastCold(token),
    'portcullis verify, cache off': (token) => cold.verify(token),
  }
  // Warm-up: every path has compiled, and our verifier has met the key once.
  for (const verify of Object.values(tasks)) await measure(verify, tokens.slice(0, 200))
  const results = Object.fromEntries(
    Object.keys(tasks).map((name) => [name, { cpu: [], wall: [], forgedCpu: [], refused: 0 }]),
  )
  // Each round starts at the next task, so that no task always follows the same one.
  const order = Object.entries(tasks)
  for (let round = 0; round < rounds; round++) {
    const turn = round % order.length
    for (const [name, verify] of [...order.slice(turn), ...order.slice(0, turn)]) {
      const good = await measure(verify, tokens)
      const bad = await measure(verify, forged)
      const r = results[name]
      r.cpu.push(good.cpu)
      r.wall.push(good.wall)
      r.forgedCpu.push(bad.cpu)
      r.refused += good.refused
      if (bad.refused !== forged.length) throw new Error(`${name} accepted a forged token`)
    }
  }
  if (Object.values(results).some((r) => r.refused > 0)) {
    throw new Error('a genuine token was refused')
  }
  // A token seen before: the same token over and over.
  const same = Array.from({ length: count * 10 }, () => tokens[0])
  await warm.verify(tokens[0])
  fastWarm(tokens[0])
  const warmRuns = []
  for (let round = 0; round < rounds; round++) {
    warmRuns.push({
      ours: (await measure((t) => warm.verify(t), same)).cpu,
      fast: (await measure((t) => fastWarm(t), same)).cpu,
    })
  }
  const cpuOf = (name) => median(results[name].cpu)
  const table = [
    ...Object.entries(results).map(([name, r]) => ({
      'distinct ES256 tokens, 50 at a time': name,
      'µs cpu': median(r.cpu).toFixed(1),
      'µs wall': median(r.wall).toFixed(1),
      'µs cpu, random signature': median(r.forgedCpu).toFixed(1),
    })),
    {
      'distinct ES256 tokens, 50 at a time': 'portcullis verify, a token seen before (cache)',
      'µs cpu': median(warmRuns.map((r) => r.ours)).toFixed(2),
      'µs wall': '',
      'µs cpu, random signature': '',
    },
    {
      'distinct ES256 tokens, 50 at a time': 'fast-jwt, cache on, a token seen before (peer)',
      'µs cpu': median(warmRuns.map((r) => r.fast)).toFixed(2),
      'µs wall': '',
      'µs cpu, random signature': '',
    },
  ]
  const ours = cpuOf('portcullis verify, cache off')
  const peer = cpuOf('fast-jwt, cache off (peer)')
  const oursForged = median(results['portcullis verify, cache off'].forgedCpu)
  const joseForged = median(results['jose jwtVerify'].forgedCpu)
  // What we add around the signature check, accepted and refused: the crypto itself may cost
  // differently for a random signature.
  const floor = 'node crypto Verify on a KeyObject (the floor)'
  const addedAccepted = ours - cpuOf(floor)
  const addedRefused = oursForged - median(results[floor].forgedCpu)
  const cachedOurs = median(warmRuns.map((r) => r.ours))
  const cachedFast = median(warmRuns.map((r) => r.fast))
  return {
    table,
    checks: [
      {
        what: "a fresh verification costs at most fast-jwt's (cache off) CPU per verification",
        value: `${ours.toFixed(1)} vs ${peer.toFixed(1)} µs (${((ours / peer - 1) * 100).toFixed(0)}%)`,
        ok: ours <= peer,
      },
      {
        what: 'a random signature: no more CPU around the signature check than for an accepted token, and no more than jwtVerify refusing it',
        value: `${addedRefused.toFixed(1)} µs around a refusal vs ${addedAccepted.toFixed(1)} µs around an acceptance; ${oursForged.toFixed(1)} µs refused vs jwtVerify's ${joseForged.toFixed(1)} µs`,
        ok: addedRefused <= addedAccepted + 1 && oursForged <= joseForged,
      },
      {
        what: 'a cached token is at least 20x cheaper than a fresh verification',
        value: `${(ours / cachedOurs).toFixed(0)}x`,
        ok: ours / cachedOurs >= 20,
      },
      {
        what: 'a cached token costs less than fast-jwt with its cache on (the peer, warm)',
        value: `${(cachedFast / cachedOurs).toFixed(1)}x cheaper`,
        ok: cachedOurs < cachedFast,
      },
    ],
  }
}
