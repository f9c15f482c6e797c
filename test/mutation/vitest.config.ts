// The vitest config Stryker runs (see stryker.config.mjs): the root config narrowed to the tests
// of the mutated groups. Stryker runs in a sandbox copy of the worktree without the packages'
// own node_modules (it never copies node_modules), so this links them back from the worktree.
import { existsSync, readdirSync, realpathSync, symlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import root from '../../vitest.config.js'
import { selectedGroups } from './groups.mjs'

const here = fileURLToPath(new URL('../../', import.meta.url))
const worktree = dirname(realpathSync(join(here, 'node_modules')))
if (worktree !== dirname(join(here, 'node_modules'))) {
  for (const name of readdirSync(join(here, 'packages'))) {
    const link = join(here, 'packages', name, 'node_modules')
    const target = join(worktree, 'packages', name, 'node_modules')
    if (!existsSync(link) && existsSync(target)) symlinkSync(target, link, 'dir')
  }
}

// Replaces the root config's include (mergeConfig would append to it).
export default defineConfig({
  ...root,
  test: {
    ...root.test,
    include: [...new Set(selectedGroups().flatMap((group) => group.tests))],
    setupFiles: [fileURLToPath(new URL('./setup.ts', import.meta.url))],
  },
})
