import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

// A clean install and build print no warnings, so that a real one is never lost among them.
const root = fileURLToPath(new URL('../..', import.meta.url))
const tsup = join(root, 'node_modules', '.bin', 'tsup')
const out = mkdtempSync(join(tmpdir(), 'portcullis-build-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

const manifests = readdirSync(join(root, 'packages')).map((dir) => ({
  dir,
  manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as {
    bin?: Record<string, string>
  },
}))

describe('a clean install and build', () => {
  it('links every bin before anything is built: each is a committed file, not build output', () => {
    const bins = manifests.flatMap(({ dir, manifest }) =>
      Object.values(manifest.bin ?? {}).map((target) => ({ dir, target })),
    )
    expect(bins.length).toBeGreaterThan(0)
    for (const { dir, target } of bins) {
      expect(target, `${dir}: ${target}`).not.toMatch(/^(\.\/)?dist\//)
      expect(existsSync(join(root, 'packages', dir, target)), `${dir}: ${target}`).toBe(true)
    }
  })

  // The packages with a default export beside named ones (CommonJS builds once warned about
  // mixing them) and an internal entry (whose imports a tree-shaking pass once warned about).
  it.each(['policy', 'portcullis'])(
    'builds packages/%s without a warning',
    (dir) => {
      const result = spawnSync(tsup, ['--out-dir', join(out, dir), '--no-clean'], {
        cwd: join(root, 'packages', dir),
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
        timeout: 120_000,
      })
      expect(result.status, result.stderr).toBe(0)
      const output = `${result.stdout}\n${result.stderr}`
      expect(output).not.toMatch(/warn|never used|named and default exports/i)
    },
    120_000,
  )
})
