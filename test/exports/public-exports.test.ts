import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { format, resolveConfig } from 'prettier'
import { describe, expect, it } from 'vitest'
import {
  byName,
  declaredExports,
  entryProgram,
  importSpecifier,
  root,
  SNAPSHOT_FILE,
  workspacePackages,
  type PublicExports,
} from './public-api.js'

// Every public export is a semver promise. The exports of each package's index, at runtime and
// as the compiler sees them (type-only exports included), must equal the checked-in list in
// test/exports/public-exports.json, so that adding, removing or renaming one is a reviewed change
// to that file. Internals live at `@portcullis/<pkg>/internal`, which is not listed here.

const UPDATE_COMMAND = `PORTCULLIS_UPDATE_EXPORTS=1 npx vitest run test/exports/public-exports.test.ts`
const CHANGED = (name: string, list: string): string =>
  `The ${list} of ${name} no longer match ${SNAPSHOT_FILE}. Each public export is a semver ` +
  `promise: if the change is deliberate, update the file with \`${UPDATE_COMMAND}\`, review its ` +
  `diff, document new exports (test/docs/exports-documented.test.ts) and add a changeset ` +
  `(a removal or rename is a breaking change). If it is not, put the name back, or move it to ` +
  `the package's internal entry.`

/** Internals that left the public indexes, and must not come back. */
const REMOVED = ['deny', 'emitAudit', 'kGuardStart', 'routeOf', 'DecisionContext']
/** A symbol key by our naming convention (`kView`, `kRouteState`): an internal by definition. */
const SYMBOL_KEY = /^k[A-Z]/

const packages = workspacePackages()
const program = entryProgram(
  packages.flatMap((entry) =>
    entry.internal === null ? [entry.index] : [entry.index, entry.internal],
  ),
)

const actual: Record<string, PublicExports> = {}
for (const entry of packages) {
  const namespace = (await import(/* @vite-ignore */ importSpecifier(entry))) as object
  actual[entry.name] = {
    values: Object.keys(namespace).sort(byName),
    valuesAndTypes: declaredExports(program, entry.index),
  }
}

if (process.env.PORTCULLIS_UPDATE_EXPORTS === '1') {
  // Written as `prettier --check` (pnpm lint) wants it.
  const file = `${root}${SNAPSHOT_FILE}`
  const config = await resolveConfig(file)
  writeFileSync(file, await format(JSON.stringify(actual), { ...config, filepath: file }))
}
const snapshot: Record<string, PublicExports | undefined> = existsSync(`${root}${SNAPSHOT_FILE}`)
  ? JSON.parse(readFileSync(`${root}${SNAPSHOT_FILE}`, 'utf8'))
  : {}

describe('public exports', () => {
  it(`${SNAPSHOT_FILE} lists exactly the workspace's packages`, () => {
    expect(Object.keys(snapshot).sort(byName), CHANGED('the workspace', 'packages')).toEqual(
      packages.map((entry) => entry.name),
    )
  })

  describe.each(packages)('$name', (entry) => {
    const { values, valuesAndTypes } = actual[entry.name]!

    it('has an internal entry in its exports map exactly when it has src/internal.ts', () => {
      expect(entry.internal !== null).toBe(
        existsSync(`${root}packages/${entry.dir}/src/internal.ts`),
      )
    })

    it('exports the listed values at runtime', () => {
      expect(values, CHANGED(entry.name, 'runtime exports')).toEqual(snapshot[entry.name]?.values)
    })

    it('exports the listed values and types', () => {
      expect(valuesAndTypes, CHANGED(entry.name, 'value and type exports')).toEqual(
        snapshot[entry.name]?.valuesAndTypes,
      )
    })

    it('declares every runtime export in its types', () => {
      expect(values.filter((name) => !valuesAndTypes.includes(name))).toEqual([])
    })

    it('exports none of the internals', () => {
      const leaked = [...new Set([...values, ...valuesAndTypes])].filter(
        (name) => REMOVED.includes(name) || SYMBOL_KEY.test(name) || name === 'then',
      )
      expect(leaked, `${entry.name} exports internals: move them to its internal entry`).toEqual([])
    })
  })
})

// A module namespace with a `then` export is a thenable: `await import()` of it calls that
// function instead of resolving, and hangs every dynamic import of the package.
describe.each(packages.filter((entry) => entry.internal !== null))('$name/internal', (entry) => {
  it('exports no `then` (compiler view)', () => {
    expect(declaredExports(program, entry.internal!)).not.toContain('then')
  })

  it('imports dynamically without hanging', async () => {
    const specifier = `${entry.name}/internal`
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`import('${specifier}') did not settle: does it export \`then\`?`)),
        10_000,
      )
    })
    try {
      const namespace = (await Promise.race([
        import(/* @vite-ignore */ specifier),
        timeout,
      ])) as object
      expect(Object.keys(namespace)).not.toContain('then')
    } finally {
      clearTimeout(timer)
    }
  })
})
