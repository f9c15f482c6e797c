import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CODE_LANGS, extractSnippets } from './snippets.js'

// The getting-started page is followed literally by new users: what it installs is what its
// examples import, and its first example is a service that runs (test/docs/snippets.test.ts
// boots it).
const file = 'docs/getting-started.md'
const snippets = extractSnippets(
  file,
  readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'),
)

/** The package a module specifier names: `@scope/name` or `name`, or null for a builtin or file. */
function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('node:')) return null
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

describe(file, () => {
  it('installs every package its examples import', () => {
    const installed = new Set<string>()
    for (const snippet of snippets.filter((s) => s.lang === 'sh')) {
      for (const [, args] of snippet.code.matchAll(/\bnpm install\b([^\n&|;]*)/g)) {
        for (const word of args!.trim().split(/\s+/)) if (!word.startsWith('-')) installed.add(word)
      }
    }
    const imported = new Set<string>()
    for (const snippet of snippets.filter((s) => CODE_LANGS.has(s.lang))) {
      for (const [, specifier] of snippet.code.matchAll(/\b(?:from|import)\s+'([^']+)'/g)) {
        const name = packageOf(specifier!)
        if (name !== null) imported.add(name)
      }
    }
    expect(imported).toContain('@portcullis/testing')
    expect([...imported].filter((name) => !installed.has(name))).toEqual([])
  })

  it('starts with an example that listens', () => {
    const first = snippets.find((s) => CODE_LANGS.has(s.lang))
    expect(first?.code).toMatch(/\bawait app\.listen\(/)
  })
})
