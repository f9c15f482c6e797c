import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

// The public API of every package, read two ways: the names its index exports at runtime, and the
// names the compiler sees it export (values and types). Shared by test/exports and test/docs.

export const root = fileURLToPath(new URL('../..', import.meta.url))

/** The checked-in list of every package's public exports: what reviewers approve. */
export const SNAPSHOT_FILE = 'test/exports/public-exports.json'

export interface PackageEntry {
  /** Directory under packages/. */
  readonly dir: string
  /** The package name users install (`@portcullis/core`, `portcullis`). */
  readonly name: string
  /** `packages/<dir>/src/index.ts`, from the repository root. */
  readonly index: string
  /** `packages/<dir>/src/internal.ts` when the package has an `./internal` entry. */
  readonly internal: string | null
}

export interface PublicExports {
  /** Names an `import * as ns` of the package holds at runtime. */
  readonly values: string[]
  /** Names the compiler sees exported: the values and the type-only exports. */
  readonly valuesAndTypes: string[]
}

/** Case-insensitive order, so `errorCodes` sits next to `ErrorCodeSpec` for the reader. */
export function byName(a: string, b: string): number {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()]
  return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0
}

export function workspacePackages(): PackageEntry[] {
  return readdirSync(`${root}packages`, { withFileTypes: true })
    .filter(
      (entry) => entry.isDirectory() && existsSync(`${root}packages/${entry.name}/package.json`),
    )
    .map(({ name: dir }) => {
      const manifest = JSON.parse(readFileSync(`${root}packages/${dir}/package.json`, 'utf8')) as {
        name: string
        exports?: Record<string, unknown>
      }
      const internal = manifest.exports?.['./internal'] !== undefined
      return {
        dir,
        name: manifest.name,
        index: `packages/${dir}/src/index.ts`,
        internal: internal ? `packages/${dir}/src/internal.ts` : null,
      }
    })
    .sort((a, b) => byName(a.name, b.name))
}

/**
 * What to `import()` for a package's public index. vitest.config.ts aliases `@portcullis/<dir>`
 * to the sources; the umbrella `portcullis` has no alias (the bare name would load its last
 * build from dist), so it is imported from its source file, whose own imports go through the
 * aliases.
 */
export function importSpecifier(entry: PackageEntry): string {
  return entry.name === `@portcullis/${entry.dir}` ? entry.name : `${root}${entry.index}`
}

/** One program over every entry point, compiled with the root tsconfig (its `paths`). */
export function entryProgram(files: string[]): ts.Program {
  const configFile = `${root}tsconfig.json`
  const { config } = ts.readConfigFile(configFile, (path) => ts.sys.readFile(path))
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configFile)
  return ts.createProgram(
    files.map((file) => `${root}${file}`),
    { ...parsed.options, noEmit: true },
  )
}

/** The names a module exports as the compiler sees them, `export *` and type-only included. */
export function declaredExports(program: ts.Program, file: string): string[] {
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(`${root}${file}`)
  if (source === undefined) throw new Error(`${file} is not in the program`)
  const moduleSymbol = checker.getSymbolAtLocation(source)
  if (moduleSymbol === undefined) throw new Error(`${file} is not a module`)
  return checker
    .getExportsOfModule(moduleSymbol)
    .map((symbol) => symbol.name)
    .sort(byName)
}
