import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorCodes, problemType, type PortcullisErrorCode } from '@portcullis/core'
import { describe, expect, it } from 'vitest'

// The error reference and the code table must never drift (the problem+json `type` links here),
// and every code the sources use (an error, or an audit reason) is in the reference.
const root = fileURLToPath(new URL('../..', import.meta.url))
const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8')
const REASONS_HEADING = '## Audit reasons'

function tableRows(markdown: string): { rows: Map<string, string>; anchors: Map<string, string> } {
  const rows = new Map<string, string>()
  const anchors = new Map<string, string>()
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim())
    const match = /^<a id="([a-z_]+)"><\/a>`(PCL_[A-Z_]+)`$/.exec(cells[1] ?? '')
    if (match === null) continue
    rows.set(match[2]!, cells[2] ?? '')
    anchors.set(match[2]!, match[1]!)
  }
  return { rows, anchors }
}

const reasonsAt = doc.indexOf(REASONS_HEADING)
const { rows, anchors } = tableRows(reasonsAt < 0 ? doc : doc.slice(0, reasonsAt))
const reasons = tableRows(reasonsAt < 0 ? '' : doc.slice(reasonsAt))

/** Every `PCL_*` name in the packages' sources (tests and their fixtures left out). */
function codesInSources(): Map<string, string> {
  const found = new Map<string, string>()
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (entry.name !== 'fixtures') walk(path)
      } else if (/\.ts$/.test(entry.name) && !/\.test(-d)?\.ts$/.test(entry.name)) {
        for (const [code] of readFileSync(join(root, path), 'utf8').matchAll(/\bPCL_[A-Z_]+\b/g)) {
          if (!found.has(code)) found.set(code, path)
        }
      }
    }
  }
  for (const pkg of readdirSync(join(root, 'packages'))) walk(join('packages', pkg, 'src'))
  return found
}

describe('docs/errors.md', () => {
  it('documents every code of the table, and no other', () => {
    expect([...rows.keys()].sort()).toEqual(Object.keys(errorCodes).sort())
  })

  it("holds the anchor that each code's problem+json `type` URL points to", () => {
    for (const code of Object.keys(errorCodes) as PortcullisErrorCode[]) {
      expect(problemType(code), code).toMatch(/\/docs\/errors\.md#/)
      expect(`#${anchors.get(code)}`, code).toBe(new URL(problemType(code)).hash)
    }
  })

  it('states the status of every code as the table does', () => {
    for (const [code, spec] of Object.entries(errorCodes)) {
      const expected = spec.kind === 'config' ? 'startup' : String(spec.status)
      expect(rows.get(code), code).toBe(expected)
    }
  })

  it('documents the audit reasons of allowed requests, with an anchor each', () => {
    expect([...reasons.rows.keys()].sort()).toEqual(['PCL_ALLOWED', 'PCL_NOT_OWNED', 'PCL_PUBLIC'])
    for (const [reason, anchor] of reasons.anchors) expect(anchor).toBe(reason.toLowerCase())
  })

  it('names every PCL_* code the sources use', () => {
    const documented = new Set([...rows.keys(), ...reasons.rows.keys()])
    const missing = [...codesInSources()]
      .filter(([code]) => !documented.has(code))
      .map(([code, file]) => `${code} (${file})`)
    expect(missing).toEqual([])
  })
})
