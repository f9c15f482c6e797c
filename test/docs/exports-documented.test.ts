import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  root,
  SNAPSHOT_FILE,
  workspacePackages,
  type PublicExports,
} from '../exports/public-api.js'

// Every public export (values and types, as listed in test/exports/public-exports.json, which
// test/exports/public-exports.test.ts keeps equal to the sources) is documented: its name appears
// as code (`name`, or in a code block) in the package's README or in a page under docs/. A new
// export without docs fails here. `default` is documented by a default import of the package in
// its README, or by the words "default export" there. Internal entries are not API: each README
// of a package that has one says so instead of documenting it.

const IDENTIFIER = /[A-Za-z_$][\w$]*/g

/** Every identifier inside inline code or a fenced code block of a Markdown text. */
function codeIdentifiers(markdown: string): Set<string> {
  const names = new Set<string>()
  const add = (code: string): void => {
    for (const [name] of code.matchAll(IDENTIFIER)) names.add(name)
  }
  const prose = markdown.replace(/^\s*(```|~~~)[^\n]*\n[\s\S]*?^\s*\1\s*$/gm, (block) => {
    add(block)
    return ''
  })
  for (const [, , code] of prose.matchAll(/(`+)([\s\S]+?)\1/g)) add(code!)
  return names
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

function markdownUnder(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) markdownUnder(path, out)
    else if (entry.name.endsWith('.md')) out.push(path)
  }
  return out
}

const snapshot = JSON.parse(readFileSync(`${root}${SNAPSHOT_FILE}`, 'utf8')) as Record<
  string,
  PublicExports
>
const docs = codeIdentifiers(
  markdownUnder('docs')
    .map((file) => readFileSync(join(root, file), 'utf8'))
    .join('\n'),
)

describe('every public export is documented', () => {
  it.each(workspacePackages())('$name', ({ dir, name }) => {
    const exports = snapshot[name]
    expect(exports, `${name} is missing from ${SNAPSHOT_FILE}`).toBeDefined()
    const readmeText = readFileSync(`${root}packages/${dir}/README.md`, 'utf8')
    const readme = codeIdentifiers(readmeText)
    const escaped = escapeRegExp(name)
    const documented = (exported: string): boolean =>
      exported === 'default'
        ? new RegExp(`import \\w+ from '${escaped}'|default export`).test(readmeText)
        : readme.has(exported) || docs.has(exported)
    const missing = exports!.valuesAndTypes.filter((exported) => !documented(exported))
    expect(
      missing,
      `public exports of ${name} not named in packages/${dir}/README.md or docs/**/*.md`,
    ).toEqual([])
  })
})

describe('every internal entry is marked as not API', () => {
  it.each(workspacePackages().filter((entry) => entry.internal !== null))(
    '$name/internal',
    ({ dir, name }) => {
      const readme = readFileSync(`${root}packages/${dir}/README.md`, 'utf8').replace(/\s+/g, ' ')
      const sentence = new RegExp(`\`${escapeRegExp(`${name}/internal`)}\`[^.]*semver[^.]*\\.`)
      expect(
        readme,
        `packages/${dir}/README.md must say that \`${name}/internal\` is for Portcullis's own ` +
          `packages, follows no semver and must not be imported by applications`,
      ).toMatch(sentence)
    },
  )
})
