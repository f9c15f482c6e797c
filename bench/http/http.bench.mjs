// The HTTP benchmark: every scenario is a server in its own child process on loopback, driven
// by autocannon from this process. Scenarios are measured interleaved (A B C ... A B C ...) over
// several rounds so that machine drift hits all of them alike, and reported as medians over the
// rounds, beside their ratio to bare Fastify.
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { proofSigner } from './dpop-proofs.mjs'
import { load, pinned, probe, startServer, stopAll } from './harness.mjs'
import { startRedis } from './redis.mjs'
import { carriedToken } from './servers/shared.mjs'

// Larger than the guard's token cache (10,000): cycling through the pool never hits the cache.
const POOL = 20_000
const PATH = '/t/acme/videos/42'

const SERVERS = {
  fastify: { file: 'fastify.mjs' },
  // Warm scenarios run on servers without a token pool: 20,000 minted tokens held in a server's
  // heap (the load generator's state, not the guard's) slow every request of that process by
  // about a fifth, which would be charged to the guard.
  guard: { file: 'guard.mjs', args: ['--pool', 0] },
  'guard-pool': { file: 'guard.mjs', args: ['--pool', POOL] },
  'guard-pool-no-cache': { file: 'guard.mjs', args: ['--pool', POOL, '--cache', 'off'] },
  // Without the pre-auth limiter: the forged tokens all come from the load generator's address,
  // which the limiter would block after 20 (and then refuse the other scenarios of the server).
  'guard-pool-no-pre-auth': { file: 'guard.mjs', args: ['--pool', POOL, '--pre-auth', 'off'] },
  'guard-no-rate-limit': { file: 'guard.mjs', args: ['--pool', 0, '--without', 'rate-limit'] },
  'guard-no-allowlist': { file: 'guard.mjs', args: ['--pool', 0, '--without', 'allowlist'] },
  'guard-dpop': { file: 'guard.mjs', args: ['--pool', 0, '--dpop'] },
  'guard-egress': { file: 'guard.mjs', args: ['--pool', 0, '--egress'] },
  // `redis`: started with `--redis <url>` of a redis-server this process starts on loopback.
  'guard-redis': { file: 'guard.mjs', args: ['--pool', 0], redis: true },
  'guard-redis-egress': { file: 'guard.mjs', args: ['--pool', 0, '--egress'], redis: true },
  'guard-telemetry-off': { file: 'guard.mjs', args: ['--pool', 0, '--telemetry', 'off'] },
  'guard-telemetry-sdk': { file: 'guard.mjs', args: ['--pool', 0, '--telemetry', 'sdk'] },
  jose: { file: 'jose.mjs', args: ['--pool', POOL] },
  'peer-cache-on': { file: 'peer.mjs', args: ['--cache', 'on'] },
  'peer-cache-off': { file: 'peer.mjs', args: ['--cache', 'off', '--pool', POOL] },
  express: { file: 'express.mjs' },
  'express-guard': { file: 'express-guard.mjs' },
  'express-guard-no-rate-limit': { file: 'express-guard.mjs', args: ['--without', 'rate-limit'] },
}

// `BENCH_BEFORE=<checkout>`: the same guard servers from another checkout, built (`pnpm build`
// there), measured in the same run: what a change did to the guard's speed.
const BEFORE = process.env.BENCH_BEFORE ? resolve(process.env.BENCH_BEFORE) : undefined
if (BEFORE !== undefined) {
  const servers = join(BEFORE, 'bench/http/servers')
  SERVERS['guard-before'] = { file: join(servers, 'guard.mjs'), args: ['--pool', 0] }
  SERVERS['express-guard-before'] = { file: join(servers, 'express-guard.mjs') }
  SERVERS['guard-before-pool-no-cache'] = {
    file: join(servers, 'guard.mjs'),
    args: ['--pool', POOL, '--cache', 'off'],
  }
  SERVERS['guard-before-pool-no-pre-auth'] = {
    file: join(servers, 'guard.mjs'),
    args: ['--pool', POOL, '--pre-auth', 'off'],
  }
  SERVERS['guard-before-dpop'] = { file: join(servers, 'guard.mjs'), args: ['--pool', 0, '--dpop'] }
  for (const without of ['rate-limit', 'allowlist']) {
    SERVERS[`guard-before-no-${without}`] = {
      file: join(servers, 'guard.mjs'),
      args: ['--pool', 0, '--without', without],
    }
  }
}

/**
 * `token`: none, the same token on every request (`warm`), a new one each time (`pool`), a new
 * one each time with a random signature of the right length (`forged`: every request is a 401,
 * and the figures count the 401s), the same DPoP-bound token with a new proof each time
 * (`dpop`), or a token a bare server never reads (`carried`): the same request bytes as a warm
 * scenario's.
 */
export const SCENARIOS = [
  { id: 'fastify', label: '1  bare Fastify (baseline)', server: 'fastify' },
  {
    id: 'fastify-token',
    label: '1b bare Fastify, the same requests as 2 (token sent, never read)',
    server: 'fastify',
    token: 'carried',
  },
  { id: 'guard-warm', label: '2  Portcullis guard, warm', server: 'guard', token: 'warm' },
  { id: 'guard-cold', label: '3  Portcullis guard, cold', server: 'guard-pool', token: 'pool' },
  {
    id: 'guard-cold-no-cache',
    label: '3a Portcullis guard, cold, cache off',
    server: 'guard-pool-no-cache',
    token: 'pool',
  },
  {
    id: 'guard-forged',
    label: '3c Portcullis guard, distinct random signatures (401), no pre-auth limiter',
    server: 'guard-pool-no-pre-auth',
    token: 'forged',
  },
  {
    id: 'guard-no-rl',
    label: '2b guard, warm, without the rate limit',
    server: 'guard-no-rate-limit',
    token: 'warm',
  },
  {
    id: 'guard-no-al',
    label: '2c guard, warm, without the allowlist',
    server: 'guard-no-allowlist',
    token: 'warm',
  },
  {
    id: 'dpop-warm',
    label: '2d guard, warm, DPoP route (a new proof per request)',
    server: 'guard-dpop',
    token: 'dpop',
  },
  {
    id: 'guard-egress',
    label: '2e guard, warm, with a budget and an enumeration limit (memory)',
    server: 'guard-egress',
    token: 'warm',
  },
  {
    id: 'guard-redis',
    label: '2f guard, warm, rate limit on Redis',
    server: 'guard-redis',
    token: 'warm',
  },
  {
    id: 'guard-redis-egress',
    label: '2g guard, warm, rate limit, budget and enumeration limit on Redis',
    server: 'guard-redis-egress',
    token: 'warm',
  },
  {
    id: 'guard-telemetry-off',
    label: '2h guard, warm, telemetry off',
    server: 'guard-telemetry-off',
    token: 'warm',
  },
  {
    id: 'guard-telemetry-sdk',
    label: '2i guard, warm, OpenTelemetry SDK registered (in memory)',
    server: 'guard-telemetry-sdk',
    token: 'warm',
  },
  { id: 'jose-cold', label: '3b Fastify + jose jwtVerify', server: 'jose', token: 'pool' },
  {
    id: 'jose-forged',
    label: '3d Fastify + jose jwtVerify, distinct random signatures (401)',
    server: 'jose',
    token: 'forged',
  },
  { id: 'peer-warm', label: '4a peer stack, cache on', server: 'peer-cache-on', token: 'warm' },
  { id: 'peer-cold', label: '4b peer stack, cache off', server: 'peer-cache-off', token: 'pool' },
  {
    id: 'peer-forged',
    label: '4c peer stack, distinct random signatures (401)',
    server: 'peer-cache-off',
    token: 'forged',
  },
  { id: 'express', label: '5a bare Express (its baseline)', server: 'express' },
  {
    id: 'express-token',
    label: '5d bare Express, the same requests as 5b (token sent, never read)',
    server: 'express',
    token: 'carried',
  },
  {
    id: 'express-guard',
    label: '5b Portcullis Express adapter, warm',
    server: 'express-guard',
    token: 'warm',
  },
  {
    id: 'express-guard-no-rl',
    label: '5c Express adapter, warm, without the rate limit',
    server: 'express-guard-no-rate-limit',
    token: 'warm',
  },
]

if (BEFORE !== undefined) {
  SCENARIOS.push(
    {
      id: 'guard-warm-before',
      label: `2* guard, warm, at ${BEFORE}`,
      server: 'guard-before',
      token: 'warm',
    },
    {
      id: 'guard-no-rl-before',
      label: `2*b guard, warm, without the rate limit, at ${BEFORE}`,
      server: 'guard-before-no-rate-limit',
      token: 'warm',
    },
    {
      id: 'guard-no-al-before',
      label: `2*c guard, warm, without the allowlist, at ${BEFORE}`,
      server: 'guard-before-no-allowlist',
      token: 'warm',
    },
    {
      id: 'guard-cold-no-cache-before',
      label: `3a* guard, cold, cache off, at ${BEFORE}`,
      server: 'guard-before-pool-no-cache',
      token: 'pool',
    },
    {
      id: 'guard-forged-before',
      label: `3c* guard, distinct random signatures (401), at ${BEFORE}`,
      server: 'guard-before-pool-no-pre-auth',
      token: 'forged',
    },
    {
      id: 'dpop-warm-before',
      label: `2d* guard, DPoP route, at ${BEFORE}`,
      server: 'guard-before-dpop',
      token: 'dpop',
    },
    {
      id: 'express-guard-before',
      label: `5* Express adapter, warm, at ${BEFORE}`,
      server: 'express-guard-before',
      token: 'warm',
    },
  )
}

/** The pool's tokens, each with its signature replaced by random bytes of the same length. */
function forgedPool(pool) {
  return pool.map((token) => {
    const dot = token.lastIndexOf('.')
    const length = Buffer.from(token.slice(dot + 1), 'base64url').length
    return `${token.slice(0, dot + 1)}${randomBytes(length).toString('base64url')}`
  })
}

const median = (values) => {
  const sorted = values.filter((v) => v !== null).sort((a, b) => a - b)
  if (sorted.length === 0) return null
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const minimum = (values) => {
  const known = values.filter((v) => v !== null)
  return known.length === 0 ? null : Math.min(...known)
}

const fixed = (value, digits) => (value === null ? '-' : value.toFixed(digits))
const percent = (value) => (value === null ? '-' : `${(value * 100).toFixed(0)}%`)

/**
 * Runs the HTTP suite: `time` ms per scenario and round, `rounds` measured rounds after one
 * warmup round (discarded). `profile`: server names to start under `--cpu-prof`; `only`: the
 * scenarios to measure (default all; bare Fastify always).
 */
export async function httpBench({
  time = 2000,
  rounds = 9,
  warmup = time,
  connections = 10,
  pipelining = 1,
  profile = [],
  only = [],
  log = console.log,
}) {
  const unknown = only.filter((id) => !SCENARIOS.some((s) => s.id === id))
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`)
  // The Redis scenarios need a redis-server on this machine; without one they are skipped.
  const wantsRedis = SCENARIOS.some(
    (s) => SERVERS[s.server].redis && (only.length === 0 || only.includes(s.id)),
  )
  const redis = wantsRedis ? await startRedis() : null
  if (wantsRedis && redis === null) {
    for (const s of SCENARIOS) if (SERVERS[s.server].redis) s.skip = 'redis-server not installed'
  }
  // Bare Fastify is always measured: every ratio is to it. Bare Fastify serving the warm
  // scenarios' requests (their token included) comes along with any guard scenario.
  const active = SCENARIOS.filter(
    (s) =>
      s.skip === undefined &&
      (only.length === 0 ||
        s.id === 'fastify' ||
        only.includes(s.id) ||
        (s.id === 'fastify-token' && only.some((id) => id.startsWith('guard'))) ||
        // The baselines of an Express scenario come along with it, like Fastify's.
        ((s.id === 'express' || s.id === 'express-token') &&
          only.some((id) => id.startsWith('express')))),
  )
  const profileDir = join(tmpdir(), `portcullis-bench-profiles-${process.pid}`)
  // BENCH_SERVER_NODE_ARGS: extra Node flags for every server (`--trace-gc`, heap sizes).
  const serverNodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const servers = {}
  const onSignal = () => {
    void stopAll().then(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const names = [...new Set(active.map((s) => s.server))]
    log(`starting ${names.length} servers (minting ${POOL} tokens for each cold one)`)
    const started = await Promise.all(
      names.map((name) =>
        startServer(name, {
          ...SERVERS[name],
          args: [
            ...(SERVERS[name].args ?? []),
            ...(SERVERS[name].redis ? ['--redis', redis.url] : []),
          ],
          execArgv: [
            ...serverNodeArgs,
            ...(profile.includes(name) ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
          ],
        }),
      ),
    )
    for (const server of started) servers[server.name] = server

    // Before measuring anything: each scenario answers 200 with its token(s), and the guarded
    // servers refuse a request without one (so a misconfigured guard cannot look fast).
    const signers = {}
    // The token a bare server is sent and never reads: the same size as the guard's warm token.
    const carried = active.some((s) => s.token === 'carried') ? await carriedToken() : undefined
    for (const scenario of active) {
      const server = servers[scenario.server]
      if (scenario.token === 'dpop') {
        signers[scenario.id] = await proofSigner(server)
        const proof = await signers[scenario.id].one(PATH)
        const headers = { authorization: `DPoP ${server.warm}`, dpop: proof }
        const status = await probe(server, PATH, undefined, headers)
        if (status !== 200) throw new Error(`${scenario.id}: expected 200, got ${status}`)
        // The same proof again is a replay, and a bearer token is refused on a DPoP route.
        const replay = await probe(server, PATH, undefined, headers)
        const bearer = await probe(server, PATH, server.warm)
        if (replay !== 401 || bearer !== 401) {
          throw new Error(
            `${scenario.id}: replay and bearer should be 401, got ${replay}, ${bearer}`,
          )
        }
        continue
      }
      if (scenario.token === 'forged') {
        server.forged ??= forgedPool(server.pool)
        for (const token of server.forged.slice(0, 2)) {
          const status = await probe(server, PATH, token)
          if (status !== 401) throw new Error(`${scenario.id}: expected 401, got ${status}`)
        }
        continue
      }
      const tokens =
        scenario.token === 'pool'
          ? server.pool.slice(0, 2)
          : [scenario.token === 'carried' ? carried : (server.warm ?? undefined)]
      for (const token of tokens) {
        const status = await probe(server, PATH, token)
        if (status !== 200) throw new Error(`${scenario.id}: expected 200, got ${status}`)
      }
      if (scenario.token !== undefined && scenario.token !== 'carried') {
        const status = await probe(server, PATH, undefined)
        if (status !== 401) throw new Error(`${scenario.id}: no token should be 401, got ${status}`)
      }
    }

    const runs = Object.fromEntries(active.map((s) => [s.id, []]))
    const settings = { connections, pipelining }
    const total = (rounds + (warmup > 0 ? 1 : 0)) * active.length
    log(
      pinned === null
        ? 'servers not pinned (no taskset, one core, or BENCH_PIN=0): CPU per request is spread over shared cores'
        : `servers pinned to core ${pinned.server}, the load generator to ${pinned.client}`,
    )
    log(
      `${active.length} scenarios x (${warmup > 0 ? '1 warmup + ' : ''}${rounds} round${rounds === 1 ? '' : 's'}) of ${time} ms, ${connections} connections, pipelining ${pipelining}: about ${Math.ceil((total * (time + 300)) / 1000)} s`,
    )
    // Proofs for a DPoP run are signed just before it (never during it), as many as it can use: a
    // proof is good once, and a run that runs out is flagged (non-2xx). Twice its last rate, and
    // at least 60% of the fastest scenario of the round (all of it before its first run).
    const lastRps = {}
    async function dpopLoad(scenario, server, duration, roundRps) {
      const fastest = Math.max(...Object.values(roundRps), 1000)
      const last = lastRps[scenario.id]
      const rate = last === undefined ? 1.2 * fastest : Math.max(2 * last, 0.6 * fastest)
      const count = Math.ceil((rate * duration) / 1000) + 100
      const proofs = await signers[scenario.id].many(PATH, count)
      return { dpop: { token: server.warm, proofs } }
    }
    for (let round = warmup > 0 ? 0 : 1; round <= rounds; round++) {
      const line = []
      const roundRps = {}
      for (const scenario of active) {
        const server = servers[scenario.server]
        const duration = round === 0 ? warmup : time
        const result = await load({
          server,
          path: PATH,
          ...(scenario.token === 'warm' ? { token: server.warm } : {}),
          ...(scenario.token === 'carried' ? { token: carried } : {}),
          ...(scenario.token === 'pool' ? { pool: server.pool } : {}),
          ...(scenario.token === 'forged' ? { pool: server.forged } : {}),
          ...(scenario.token === 'dpop'
            ? await dpopLoad(scenario, server, duration, roundRps)
            : {}),
          duration,
          ...settings,
        })
        // A forged scenario's answers are all 401s: its rate is the rate of answers.
        if (scenario.token === 'forged') result.rps = result.answeredRps
        roundRps[scenario.id] = result.rps
        if (scenario.token === 'dpop') lastRps[scenario.id] = result.rps
        if (round > 0) runs[scenario.id].push(result)
        line.push(`${scenario.id} ${Math.round(result.rps)}`)
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
      log(`  ${round === 0 ? 'warmup ' : `round ${round}`}: ${line.join(', ')} req/s`)
    }

    const summary = {}
    for (const scenario of active) {
      const list = runs[scenario.id]
      const rps = list.map((r) => r.rps)
      summary[scenario.id] = {
        rps: median(rps),
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        spread: (Math.max(...rps) - Math.min(...rps)) / median(rps),
        clientCpu: median(list.map((r) => r.clientCpu)),
        serverCpu: median(list.map((r) => r.serverCpu)),
        cpuPerRequest: median(list.map((r) => r.cpuPerRequest)),
        // The least CPU per request of the rounds: other jobs on a shared host only ever add to
        // it, so on a busy machine this is the steadier figure of what a request costs.
        minCpuPerRequest: minimum(list.map((r) => r.cpuPerRequest)),
        otherCpu: median(list.map((r) => r.otherCpu)),
        non2xx: list.reduce((n, r) => n + r.non2xx, 0),
        errors: list.reduce((n, r) => n + r.errors, 0),
      }
    }
    // Ratios are paired: each round's figure against the baseline measured in the same round,
    // then the median over the rounds (steadier than a ratio of two medians under drift).
    const ratio = (a, b) => median(runs[a].map((run, i) => run.rps / runs[b][i].rps))
    // CPU per request against the baseline's, paired the same way: 1.25 costs a quarter more.
    const cpuRatio = (a, b) =>
      median(
        runs[a].map((run, i) =>
          run.cpuPerRequest === null || runs[b][i].cpuPerRequest === null
            ? null
            : run.cpuPerRequest / runs[b][i].cpuPerRequest,
        ),
      )
    const baselineOf = (id) => (id.startsWith('express') ? 'express' : 'fastify')
    for (const id of Object.keys(summary)) {
      summary[id].xFastify = ratio(id, 'fastify')
      summary[id].cpuXBaseline = cpuRatio(id, baselineOf(id))
    }
    const table = SCENARIOS.filter((s) => s.skip !== undefined || summary[s.id] !== undefined).map(
      (scenario) => {
        const s = summary[scenario.id]
        if (s === undefined) {
          return { scenario: scenario.label, 'req/s': '-', note: scenario.skip }
        }
        return {
          scenario: scenario.label,
          'req/s': Math.round(s.rps),
          'p50 ms': fixed(s.p50, 2),
          'p99 ms': fixed(s.p99, 2),
          'x fastify': fixed(ratio(scenario.id, 'fastify'), 2),
          'µs cpu/req': fixed(s.cpuPerRequest, 1),
          'min µs': fixed(s.minCpuPerRequest, 1),
          'cpu x base': fixed(cpuRatio(scenario.id, baselineOf(scenario.id)), 2),
          spread: `±${percent(s.spread / 2)}`,
          'cpu client/server/other': [s.clientCpu, s.serverCpu, s.otherCpu]
            .map(percent)
            .join(' / '),
          note:
            scenario.token === 'forged'
              ? `all ${s.non2xx} answered 401${s.errors > 0 ? `, ${s.errors} errors` : ''}`
              : s.non2xx + s.errors > 0
                ? `${s.non2xx} non-2xx, ${s.errors} errors`
                : '',
        }
      },
    )

    const features = (servers.guard ?? servers['guard-pool'])?.features ?? {}
    const missing = [
      ...(features.rateLimit === false ? ['rate limit'] : []),
      ...(features.response === false ? ['allowlist'] : []),
    ]
    const partial = missing.length === 0 ? '' : ` [measured without ${missing.join(' and ')}]`
    const failing = active.filter(
      (s) =>
        summary[s.id].errors > 0 ||
        (s.token === 'forged'
          ? runs[s.id].some((run) => run.requests > 0)
          : summary[s.id].non2xx > 0),
    )
    const rps = (id) => Math.round(summary[id].rps)
    // Each comparison, when both of its scenarios were measured in this run.
    const comparisons = [
      // The adapters against their bare framework serving the same requests (the token sent
      // and never read: parsing its header is not the guard's work), and without it.
      ...[
        ['express-guard', 'express', 'the Express adapter', 'Express'],
        ['guard-warm', 'fastify', `full guard${partial}`, 'Fastify'],
      ].flatMap(([guarded, bare, what, framework]) => [
        {
          needs: [guarded, `${bare}-token`],
          check: () => ({
            what: `${what} (warm) keeps >= 85% of bare ${framework}'s req/s on the same requests`,
            value: `${percent(ratio(guarded, `${bare}-token`))} (${rps(guarded)} vs ${rps(`${bare}-token`)} req/s), ${fixed(cpuRatio(guarded, `${bare}-token`), 2)}x its CPU per request`,
            ok: ratio(guarded, `${bare}-token`) >= 0.85,
          }),
        },
        {
          needs: [guarded, bare],
          check: () => ({
            info: true,
            what: `${what} (warm) beside bare ${framework} sent no token`,
            value: `${percent(ratio(guarded, bare))} (${rps(guarded)} vs ${rps(bare)} req/s), ${fixed(cpuRatio(guarded, bare), 2)}x its CPU per request`,
          }),
        },
      ]),
      ...[
        ['guard-warm', 'guard-warm-before', 'the Fastify guard'],
        ['express-guard', 'express-guard-before', 'the Express adapter'],
      ].map(([now, before, what]) => ({
        needs: [now, before],
        check: () => ({
          what: `${what} (warm) is no slower than at BENCH_BEFORE (within 3%, the noise floor)`,
          value: `${fixed(ratio(now, before), 2)}x its req/s, ${fixed(cpuRatio(now, before), 2)}x its CPU per request (${rps(now)} vs ${rps(before)} req/s)`,
          ok: ratio(now, before) >= 0.97,
        }),
      })),
      {
        needs: ['express-guard', 'express-guard-no-rl'],
        check: () => ({
          info: true,
          what: "the Express adapter's in-memory rate limit costs",
          value: `${percent(1 - ratio('express-guard', 'express-guard-no-rl'))} of its req/s (${rps('express-guard')} vs ${rps('express-guard-no-rl')} req/s); without it the adapter keeps ${percent(ratio('express-guard-no-rl', 'express'))} of bare Express`,
        }),
      },
      {
        needs: ['guard-warm', 'guard-no-rl'],
        check: () => ({
          what: "the in-memory rate limit costs at most 10% of the guard's req/s",
          value: `${percent(ratio('guard-warm', 'guard-no-rl'))} (${rps('guard-warm')} vs ${rps('guard-no-rl')} req/s)`,
          ok: ratio('guard-warm', 'guard-no-rl') >= 0.9,
        }),
      },
      {
        needs: ['guard-warm', 'guard-no-al'],
        check: () => ({
          what: 'the response allowlist keeps >= 95% of the same route without it',
          value: `${percent(ratio('guard-warm', 'guard-no-al'))} (${rps('guard-warm')} vs ${rps('guard-no-al')} req/s)`,
          ok: ratio('guard-warm', 'guard-no-al') >= 0.95,
        }),
      },
      {
        needs: ['guard-egress', 'guard-warm'],
        check: () => ({
          what: 'a budget and an enumeration limit (memory store) keep >= 95% of the same route without them',
          value: `${percent(ratio('guard-egress', 'guard-warm'))} (${rps('guard-egress')} vs ${rps('guard-warm')} req/s), ${fixed(cpuRatio('guard-egress', 'guard-warm'), 2)}x its CPU per request`,
          ok: ratio('guard-egress', 'guard-warm') >= 0.95,
        }),
      },
      {
        needs: ['guard-redis', 'guard-warm'],
        check: () => ({
          info: true,
          what: 'the rate limit on Redis (one script per request) beside the in-memory one',
          value: `${percent(ratio('guard-redis', 'guard-warm'))} (${rps('guard-redis')} vs ${rps('guard-warm')} req/s)`,
        }),
      },
      {
        needs: ['guard-redis-egress', 'guard-redis'],
        check: () => ({
          info: true,
          what: 'a budget and an enumeration limit on Redis (two scripts before the handler, one after) beside the Redis rate limit alone',
          value: `${percent(ratio('guard-redis-egress', 'guard-redis'))} (${rps('guard-redis-egress')} vs ${rps('guard-redis')} req/s)`,
        }),
      },
      {
        needs: ['guard-warm', 'guard-telemetry-off'],
        check: () => ({
          what: "telemetry through the API with no SDK keeps >= 99% of the guard's req/s without it",
          value: `${percent(ratio('guard-warm', 'guard-telemetry-off'))} (${rps('guard-warm')} vs ${rps('guard-telemetry-off')} req/s), ${fixed(cpuRatio('guard-warm', 'guard-telemetry-off'), 2)}x its CPU per request`,
          ok: ratio('guard-warm', 'guard-telemetry-off') >= 0.99,
        }),
      },
      {
        needs: ['guard-telemetry-sdk', 'guard-telemetry-off'],
        check: () => ({
          info: true,
          what: 'the OpenTelemetry SDK registered (metrics and spans in memory) beside the guard without telemetry',
          value: `${percent(ratio('guard-telemetry-sdk', 'guard-telemetry-off'))} (${rps('guard-telemetry-sdk')} vs ${rps('guard-telemetry-off')} req/s), ${fixed(cpuRatio('guard-telemetry-sdk', 'guard-telemetry-off'), 2)}x its CPU per request`,
        }),
      },
      {
        needs: ['dpop-warm', 'guard-warm'],
        check: () => ({
          info: true,
          what: 'DPoP route (token cached, one proof signature check per request) beside the same route with a bearer token',
          value: `${percent(ratio('dpop-warm', 'guard-warm'))} of the bearer route's req/s (${rps('dpop-warm')} vs ${rps('guard-warm')} req/s)`,
        }),
      },
      {
        needs: ['dpop-warm', 'guard-cold'],
        check: () => ({
          info: true,
          what: 'DPoP route beside the guard with a new bearer token per request (one signature check each)',
          value: `${percent(ratio('dpop-warm', 'guard-cold'))} (${rps('dpop-warm')} vs ${rps('guard-cold')} req/s)`,
        }),
      },
      {
        needs: ['guard-warm', 'peer-warm'],
        check: () => ({
          what: `full guard (warm) is faster than the peer stack with fast-jwt's cache on${partial}`,
          value: `${fixed(ratio('guard-warm', 'peer-warm'), 2)}x (${rps('guard-warm')} vs ${rps('peer-warm')} req/s)`,
          ok: ratio('guard-warm', 'peer-warm') > 1,
        }),
      },
      {
        needs: ['guard-cold', 'jose-cold'],
        check: () => ({
          what: `full guard (cold) keeps >= 90% of Fastify + one jose jwtVerify${partial}`,
          value: `${percent(ratio('guard-cold', 'jose-cold'))} (${rps('guard-cold')} vs ${rps('jose-cold')} req/s)`,
          ok: ratio('guard-cold', 'jose-cold') >= 0.9,
        }),
      },
      {
        needs: ['peer-cold', 'jose-cold', 'guard-cold'],
        check: () => ({
          info: true,
          what: 'peer stack (cache off) beside the same baseline',
          value: `${percent(ratio('peer-cold', 'jose-cold'))} of Fastify + jose jwtVerify; full guard cold is ${fixed(ratio('guard-cold', 'peer-cold'), 2)}x the peer's cold path`,
        }),
      },
    ]
    // CPU per request over bare Fastify's: what a scenario adds, in µs.
    const cpu = (id) => summary[id].cpuPerRequest
    const added = (id) =>
      cpu(id) === null || cpu('fastify') === null ? null : cpu(id) - cpu('fastify')
    const us = (value) => `${fixed(value, 1)} µs`
    const cpuAtMost = (a, b) => cpu(a) !== null && cpu(b) !== null && cpu(a) <= cpu(b)
    comparisons.push(
      ...[
        ['guard-cold', 'cache on'],
        ['guard-cold-no-cache', 'cache off'],
      ].map(([id, what]) => ({
        needs: [id, 'peer-cold', 'fastify'],
        check: () => ({
          what: `distinct valid tokens, ${what}: the guard adds no more CPU per request over bare Fastify than the peer stack without cache`,
          value: `${us(added(id))} vs ${us(added('peer-cold'))} (${us(cpu(id))}, ${us(cpu('peer-cold'))}, bare ${us(cpu('fastify'))})`,
          ok: added(id) !== null && added('peer-cold') !== null && added(id) <= added('peer-cold'),
        }),
      })),
      {
        needs: ['guard-forged', 'jose-forged'],
        check: () => ({
          what: 'distinct random signatures: the guard costs no more CPU per refusal than Fastify + jwtVerify',
          value: `${us(cpu('guard-forged'))} vs ${us(cpu('jose-forged'))}${summary['peer-forged'] === undefined ? '' : ` (peer stack ${us(cpu('peer-forged'))})`}`,
          ok: cpuAtMost('guard-forged', 'jose-forged'),
        }),
      },
      {
        needs: ['guard-forged', 'guard-cold'],
        check: () => ({
          what: 'a refused token costs no more CPU than an accepted fresh one',
          value: `${us(cpu('guard-forged'))} vs ${us(cpu('guard-cold'))}`,
          ok: cpuAtMost('guard-forged', 'guard-cold'),
        }),
      },
      {
        needs: ['dpop-warm', 'guard-cold'],
        check: () => ({
          what: 'DPoP (token cached, fresh proof signed by the load generator) costs no more CPU per request than a fresh bearer token',
          value: `${us(cpu('dpop-warm'))} vs ${us(cpu('guard-cold'))}`,
          ok: cpuAtMost('dpop-warm', 'guard-cold'),
        }),
      },
    )
    const pending = (what) => ({ pending: true, what, value: 'not in this build yet' })
    const checks = [
      {
        what: 'every measured request answered 2xx (401 for the forged tokens)',
        value: failing.length === 0 ? 'yes' : `no: ${failing.map((s) => s.id).join(', ')}`,
        ok: failing.length === 0,
      },
      ...comparisons
        .filter(({ needs }) => needs.every((id) => summary[id] !== undefined))
        .map(({ check }) => check()),
      ...(features.rateLimit === false ? [pending('rate limit in the measured guard')] : []),
      ...(features.response === false ? [pending('allowlist in the measured guard')] : []),
      ...SCENARIOS.filter((s) => s.skip !== undefined).map((s) => ({
        pending: true,
        what: s.label.slice(3),
        value: s.skip.replace(/^pending: /, ''),
      })),
    ]
    const busiest = Math.max(...active.map((s) => summary[s.id].otherCpu ?? 0))
    return {
      table,
      checks,
      notes: [
        ...(busiest > 0.2
          ? [
              `the machine was busy with other work during the runs (up to ${percent(busiest)} of a core besides client and server): treat these figures with care`,
            ]
          : []),
        ...((servers.guard ?? servers['guard-pool'])?.notes ?? []).map((n) => `guard: ${n}`),
        ...(profile.length > 0 ? [`cpu profiles of ${profile.join(', ')}: ${profileDir}`] : []),
      ],
      data: {
        settings: { time, rounds, warmup, connections, pipelining, pool: POOL, path: PATH },
        guardFeatures: features,
        scenarios: SCENARIOS.filter((s) => s.skip !== undefined || summary[s.id] !== undefined).map(
          (s) => ({
            id: s.id,
            label: s.label,
            ...(s.skip === undefined
              ? { median: summary[s.id], rounds: runs[s.id] }
              : { skipped: s.skip }),
          }),
        ),
      },
    }
  } finally {
    await stopAll()
    await redis?.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
