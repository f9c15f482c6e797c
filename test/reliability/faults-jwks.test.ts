import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  createTestIssuer,
  HUGE_JWKS_BYTES,
  type JwksBehavior,
  type TestIssuer,
} from '@portcullis/testing'
import type { TokensJwksOptions } from '@portcullis/tokens'
import { decodeProtectedHeader } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { guardedApp, type GuardedApp } from '../helpers.js'
import { load, shoot, tallyOf, wrongOf, type Shot } from './load.js'
import { MiB } from './support.js'

// A JWKS endpoint that fails in every way we could think of, under concurrent load through the
// full guard. Every request carries a token never seen before (a distinct subject), so each one
// needs the issuer's key. Expected behaviour (docs/reliability.md, docs/operations.md):
//
// - no usable key (never fetched, or past cacheMaxAge + staleIfError): 503 PCL_KEYS_UNAVAILABLE,
//   problem+json, never a 200 and never a 500;
// - keys fetched before keep verifying while the endpoint fails (staleIfError);
// - the endpoint is fetched at most once per `cooldown` however many requests need it (no
//   hammering), a slow one costs at most `timeout`, a huge one at most `maxBytes` read;
// - when the endpoint comes back, requests are served again without restarting the app;
// - every 200 is about the subject of the token that asked (nothing served was wrong).

const ISSUER = 'https://auth.jwks.test'
const AUDIENCE = 'videos-api'
const COOLDOWN = 1000 // the smallest cooldown the options accept
const TIMEOUT = 300

interface Target extends GuardedApp {
  runs: () => number
}

const open: { close(): Promise<unknown> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()))
})

async function target(
  issuer: TestIssuer,
  jwksUri: string,
  jwks: TokensJwksOptions,
): Promise<Target> {
  let runs = 0
  const h = await guardedApp(
    (app) => {
      app.get(
        '/v1/videos/:id',
        {
          config: {
            guard: { scopes: ['videos:read'], response: { allow: ['id', 'subject'] } },
          },
        },
        (req) => {
          runs++
          return { id: (req.params as { id: string }).id, subject: req.principal?.subject }
        },
      )
    },
    {
      issuer,
      portcullis: {
        tokens: {
          issuers: [{ issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], jwksUri }],
          realm: 'jwks',
          jwks: { cooldown: COOLDOWN, timeout: TIMEOUT, ...jwks },
        },
        response: {},
      },
    },
  )
  await h.app.ready()
  open.push(h.app)
  return { ...h, runs: () => runs }
}

async function newIssuer(): Promise<TestIssuer> {
  const issuer = await createTestIssuer({ issuer: ISSUER, audience: AUDIENCE })
  open.push(issuer)
  return issuer
}

let subjects = 0
/** A token for a subject never seen before, signed with the issuer's current key. */
async function fresh(issuer: TestIssuer, tag = 'fresh') {
  const subject = `user-${++subjects}`
  return { token: await issuer.token({ sub: subject, scope: ['videos:read'] }), subject, tag }
}

/** Calls with fresh tokens until one is served; returns how long that took. */
async function recovery(t: Target, issuer: TestIssuer, limitMs: number): Promise<number> {
  const start = performance.now()
  while (performance.now() - start < limitMs) {
    const shot = await shoot(t.app, await fresh(issuer))
    expect(shot.wrong).toBeNull()
    if (shot.status === 200) return performance.now() - start
    await sleep(50)
  }
  throw new Error(`not served again within ${limitMs} ms after the JWKS endpoint recovered`)
}

const maxLatency = (shots: Shot[]) => Math.max(...shots.map((s) => s.end - s.start))

const outages: [string, JwksBehavior][] = [
  ['down (connection reset)', 'down'],
  ['HTTP 500', { status: 500 }],
  ['slower than the timeout', 'slow'],
  ['garbage (cut-short JSON)', 'garbage'],
  ['garbage (not JSON)', { body: '<html>oops</html>', contentType: 'text/html' }],
  ['garbage (random bytes)', { body: randomBytes(4096) }],
  ['garbage (JSON, not a JWKS)', { body: '{"keys":"none"}' }],
  ['a 10 MB body with Content-Length', { body: Buffer.alloc(HUGE_JWKS_BYTES, 0x20) }],
  ['a 10 MB chunked body', 'huge'],
  ['a body that drips slower than the timeout', { dripMs: 25 }],
]

describe('JWKS endpoint faults, no key cached yet', () => {
  it.each(outages)(
    '%s: 503 for every request, one fetch per cooldown, served again once it recovers',
    async (_label, outage) => {
      const issuer = await newIssuer()
      const uri = await issuer.listen()
      issuer.setJwksBehavior(outage)
      const t = await target(issuer, uri, {})
      const shots = await load(t.app, { ms: 600, concurrency: 8, aim: () => fresh(issuer) })
      const tally = tallyOf(shots)

      expect(wrongOf(shots)).toEqual([])
      expect(shots.length, String(tally)).toBeGreaterThan(10)
      expect(tally.count('PCL_KEYS_UNAVAILABLE'), String(tally)).toBe(shots.length)
      expect(t.runs()).toBe(0)
      // Concurrent requests shared one fetch, and the failure is not retried within the
      // cooldown: one request to the endpoint for the whole run.
      expect(issuer.jwksRequests).toBe(1)
      // A slow endpoint costs at most the timeout (body included), then refusals are immediate.
      expect(maxLatency(shots)).toBeLessThan(TIMEOUT + 400)
      if (outage === 'huge') {
        // The client stopped reading at maxBytes (256 KiB) and hung up: the rest of the 10 MB
        // was never sent.
        expect(issuer.jwksBytesSent).toBeLessThan(MiB)
      }
      // Audit events name the outage; the log holds no body of the failed response.
      expect(t.events.filter((e) => e.reason === 'PCL_KEYS_UNAVAILABLE')).toHaveLength(shots.length)
      expect(t.logs.join('\n')).not.toContain('oops')

      issuer.setJwksBehavior('ok')
      const after = await recovery(t, issuer, COOLDOWN + 2000)
      // The next fetch waited out the cooldown of the failure, not longer.
      expect(after).toBeLessThan(COOLDOWN + 1000)
      const served = await load(t.app, { ms: 200, concurrency: 8, aim: () => fresh(issuer) })
      expect(wrongOf(served)).toEqual([])
      expect(tallyOf(served).count(200)).toBe(served.length)
      expect(issuer.jwksRequests).toBe(2)
    },
  )

  it('an empty key set is an answer, not an outage: 401, never 200, no refetch within the cooldown', async () => {
    const issuer = await newIssuer()
    const uri = await issuer.listen()
    issuer.setJwksBehavior({ body: '{"keys":[]}' })
    const t = await target(issuer, uri, {})
    const shots = await load(t.app, { ms: 400, concurrency: 8, aim: () => fresh(issuer) })
    const tally = tallyOf(shots)
    expect(wrongOf(shots)).toEqual([])
    expect(tally.count('PCL_TOKEN_INVALID'), String(tally)).toBe(shots.length)
    expect(issuer.jwksRequests).toBe(1)
    expect(t.runs()).toBe(0)
  })
})

describe('JWKS endpoint faults with keys cached', () => {
  it('keys fetched before keep verifying new tokens through an outage past cacheMaxAge (staleIfError)', async () => {
    const issuer = await newIssuer()
    const uri = await issuer.listen()
    const t = await target(issuer, uri, { cacheMaxAge: 1000, staleIfError: 60_000 })
    const warm = await shoot(t.app, await fresh(issuer))
    expect(warm.status).toBe(200)
    expect(issuer.jwksRequests).toBe(1)

    issuer.setJwksBehavior({ status: 500 })
    const started = performance.now()
    const shots = await load(t.app, { ms: 2500, concurrency: 8, aim: () => fresh(issuer) })
    const elapsed = performance.now() - started
    const tally = tallyOf(shots)
    expect(wrongOf(shots)).toEqual([])
    expect(tally.count(200), String(tally)).toBe(shots.length)
    expect(t.runs()).toBe(shots.length + 1)
    // Past cacheMaxAge it tried to refresh, once per cooldown at most.
    const fetches = issuer.jwksRequests - 1
    expect(fetches).toBeGreaterThanOrEqual(1)
    expect(fetches).toBeLessThanOrEqual(Math.ceil(elapsed / COOLDOWN) + 1)

    // A token signed with a key the stale set does not hold cannot be checked: 503, not 200.
    const stranger = await createTestIssuer({ issuer: ISSUER, audience: AUDIENCE })
    const unknown = await shoot(t.app, {
      token: await stranger.token({ sub: 'mallory', scope: ['videos:read'] }),
      subject: 'mallory',
      tag: 'unknown kid',
    })
    expect([unknown.status, unknown.code]).toEqual([503, 'PCL_KEYS_UNAVAILABLE'])
    expect(unknown.wrong).toBeNull()

    issuer.setJwksBehavior('ok')
    await sleep(COOLDOWN)
    const after = await load(t.app, { ms: 200, concurrency: 4, aim: () => fresh(issuer) })
    expect(tallyOf(after).count(200)).toBe(after.length)
  })

  it('without staleIfError an outage past cacheMaxAge fails closed: 503 even for cached tokens', async () => {
    const issuer = await newIssuer()
    const uri = await issuer.listen()
    const t = await target(issuer, uri, { cacheMaxAge: 1000, staleIfError: 0 })
    const known = await fresh(issuer, 'cached')
    expect((await shoot(t.app, known)).status).toBe(200)
    issuer.setJwksBehavior('down')
    await sleep(1100)
    const shots = await load(t.app, {
      ms: 500,
      concurrency: 8,
      aim: async (i) => (i % 2 === 0 ? known : fresh(issuer)),
    })
    const tally = tallyOf(shots)
    expect(wrongOf(shots)).toEqual([])
    expect(tally.count('PCL_KEYS_UNAVAILABLE'), String(tally)).toBe(shots.length)
    expect(tallyOf(shots, (s) => s.tag === 'cached').total).toBeGreaterThan(10)
    expect(t.runs()).toBe(1)
    expect(issuer.jwksRequests).toBe(2)
  })

  it('rotates keys mid-load: new tokens verify at once, old ones stop being served, no 5xx', async () => {
    const issuer = await newIssuer()
    const uri = await issuer.listen()
    const t = await target(issuer, uri, {})
    // Tokens signed before the rotation; verified (and cached) during the first phase.
    const old = await Promise.all(Array.from({ length: 16 }, () => fresh(issuer, 'old')))
    const oldKid = issuer.kid
    let rotatedAt = Infinity
    const rotation = sleep(COOLDOWN + 400).then(async () => {
      await issuer.rotate()
      rotatedAt = performance.now()
    })
    const shots = await load(t.app, {
      ms: 2800,
      concurrency: 8,
      aim: async (i) => {
        if (i % 3 === 0) return old[i % old.length]!
        const aim = await fresh(issuer)
        return { ...aim, tag: decodeProtectedHeader(aim.token).kid === oldKid ? 'before' : 'after' }
      },
    })
    await rotation
    const tally = tallyOf(shots)
    expect(wrongOf(shots)).toEqual([])
    expect(tally.range(500, 599), String(tally)).toBe(0)
    // Before the rotation everything was served.
    expect(tallyOf(shots, (s) => s.end < rotatedAt && s.tag !== 'after').count(200)).toBe(
      shots.filter((s) => s.end < rotatedAt && s.tag !== 'after').length,
    )
    // Tokens of the new key were served from the first one on: the unknown kid refetched
    // the JWKS at once (the last fetch was more than a cooldown ago).
    const after = shots.filter((s) => s.tag === 'after')
    expect(after.length).toBeGreaterThan(20)
    expect(tallyOf(after).count(200), String(tallyOf(after))).toBe(after.length)
    // Once a new-key token was served, the refreshed JWKS no longer held the old key: no token
    // signed with it, cached or not, was served after that.
    const switched = Math.min(...after.map((s) => s.end))
    const late = shots.filter((s) => s.tag !== 'after' && s.start > switched)
    expect(late.length).toBeGreaterThan(20)
    expect(tallyOf(late).count('PCL_TOKEN_INVALID'), String(tallyOf(late))).toBe(late.length)
    // Two fetches, plus at most one per cooldown for the unknown (old) kid.
    expect(issuer.jwksRequests).toBeGreaterThanOrEqual(2)
    expect(issuer.jwksRequests).toBeLessThanOrEqual(4)
  })
})
