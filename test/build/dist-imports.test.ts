import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// The suite itself runs against the sources; this checks what `pnpm -r build` produced, as a
// user's `import` and `require` would load it (resolved through each package's exports map).
const root = fileURLToPath(new URL('../..', import.meta.url))
const packages = readdirSync(new URL('../../packages', import.meta.url)).map((dir) => {
  const manifest = JSON.parse(
    readFileSync(new URL(`../../packages/${dir}/package.json`, import.meta.url), 'utf8'),
  ) as { name: string }
  return { dir, name: manifest.name }
})

const expectedExport: Record<string, string> = {
  '@portcullis/core': 'renderProblem',
  '@portcullis/tokens': 'createVerifier',
  '@portcullis/policy': 'compileGuard',
  '@portcullis/fastify': 'portcullis',
  '@portcullis/testing': 'createTestIssuer',
  '@portcullis/rate-limit': 'rateLimitPlugin',
  '@portcullis/allowlist': 'compileAllowlist',
  '@portcullis/express': 'createGuard',
  '@portcullis/runtime': 'createGuardRuntime',
  portcullis: 'portcullis',
}

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim()
}

describe.each(packages)('built $name', ({ dir, name }) => {
  it('has ESM, CJS and both declaration files', () => {
    for (const file of ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts']) {
      expect(existsSync(`${root}packages/${dir}/dist/${file}`), `${dir}/dist/${file}`).toBe(true)
    }
  })

  it('imports as ESM', () => {
    const out = node([
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(name)}); console.log(typeof m[${JSON.stringify(expectedExport[name])}])`,
    ])
    expect(out).toBe('function')
  })

  it('requires as CJS', () => {
    const out = node([
      '-e',
      `const m = require(${JSON.stringify(name)}); console.log(typeof m[${JSON.stringify(expectedExport[name])}])`,
    ])
    expect(out).toBe('function')
  })
})

it('covers every package', () => {
  expect(packages.map((p) => p.name).sort()).toEqual(Object.keys(expectedExport).sort())
})
