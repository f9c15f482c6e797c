// `pnpm bench`: every benchmark side by side in one run, reported as ratios to its baseline,
// because shared machines are noisy. Benchmarks report; they never fail the build.
import { policyBench } from './micro/policy.bench.mjs'
import { tokensBench } from './micro/tokens.bench.mjs'

const time = Number(process.env.BENCH_TIME_MS ?? 2000)
const suites = [
  ['tokens', tokensBench],
  ['policy', policyBench],
]
const only = process.argv.slice(2)
let failed = 0
for (const [name, run] of suites) {
  if (only.length > 0 && !only.includes(name)) continue
  console.log(`\n## ${name}\n`)
  const { table, checks } = await run({ time })
  console.table(table)
  for (const check of checks) {
    if (!check.ok) failed++
    console.log(`${check.ok ? 'ok  ' : 'MISS'} ${check.what}: ${check.value}`)
  }
}
console.log(failed === 0 ? '\nAll targets met.' : `\n${failed} target(s) missed on this run.`)
