// `pnpm bench`: every benchmark side by side in one run, reported as ratios to its baseline,
// because shared machines are noisy. Benchmarks report; they never fail the build.
//
//   node bench/run.mjs                 all suites: tokens, policy, allowlist, body (micro), then http
//   node bench/run.mjs http            only the named suites
//   node bench/run.mjs --quick         a short run (seconds per suite), for CI
//   node bench/run.mjs --json out.json write the results there (default bench/results/latest.json)
//
// Environment: BENCH_TIME_MS (ms per micro task and per HTTP scenario round), BENCH_ROUNDS
// (measured HTTP rounds), BENCH_SCENARIOS (HTTP scenarios to measure, comma-separated; bare
// Fastify always), BENCH_PROFILE (HTTP servers to run under --cpu-prof, comma-separated),
// BENCH_SERVER_NODE_ARGS (extra Node flags for every HTTP server, space-separated).
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { httpBench } from './http/http.bench.mjs'
import { allowlistBench } from './micro/allowlist.bench.mjs'
import { bodyBench } from './micro/body.bench.mjs'
import { policyBench } from './micro/policy.bench.mjs'
import { tokensBench } from './micro/tokens.bench.mjs'

const { values, positionals } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, json: { type: 'string' } },
  allowPositionals: true,
})
const env = (name) => (process.env[name] === undefined ? undefined : Number(process.env[name]))
const quick = values.quick
const microTime = env('BENCH_TIME_MS') ?? (quick ? 200 : 2000)
const http = {
  time: env('BENCH_TIME_MS') ?? (quick ? 1000 : 2000),
  rounds: env('BENCH_ROUNDS') ?? (quick ? 1 : 9),
  ...(quick ? { warmup: 500 } : {}),
  profile: (process.env.BENCH_PROFILE ?? '').split(',').filter(Boolean),
  only: (process.env.BENCH_SCENARIOS ?? '').split(',').filter(Boolean),
}

const suites = [
  ['tokens', () => tokensBench({ time: microTime })],
  ['policy', () => policyBench({ time: microTime })],
  ['allowlist', () => allowlistBench({ time: microTime })],
  ['body', () => bodyBench({ time: microTime })],
  ['http', () => httpBench(http)],
]
const unknown = positionals.filter((name) => !suites.some(([known]) => known === name))
if (unknown.length > 0) {
  console.error(
    `unknown suite(s): ${unknown.join(', ')} (known: ${suites.map(([n]) => n).join(', ')})`,
  )
  process.exit(2)
}

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  date: new Date().toISOString(),
  loadAverage: loadavg()[0],
}
console.log(
  `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadAverage.toFixed(2)}${quick ? ' (quick run)' : ''}`,
)
if (machine.loadAverage > machine.cores / 2) {
  console.log('note: the machine is already busy: figures will be noisy (ratios suffer less)')
}

const results = { machine, quick, suites: {} }
let missed = 0
for (const [name, run] of suites) {
  if (positionals.length > 0 && !positionals.includes(name)) continue
  console.log(`\n## ${name}\n`)
  const { table, checks, notes = [], data } = await run()
  console.table(table)
  for (const note of notes) console.log(`note: ${note}`)
  for (const check of checks) {
    const status = check.info ? 'info' : check.pending ? 'PEND' : check.ok ? 'ok  ' : 'MISS'
    if (status === 'MISS') missed++
    console.log(`${status} ${check.what}: ${check.value}`)
  }
  results.suites[name] = { table, checks, notes, ...(data === undefined ? {} : { data }) }
}
console.log(missed === 0 ? '\nAll targets met.' : `\n${missed} target(s) missed on this run.`)

const out = values.json ?? fileURLToPath(new URL('./results/latest.json', import.meta.url))
mkdirSync(dirname(resolve(out)), { recursive: true })
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
console.log(`results written to ${out}`)
