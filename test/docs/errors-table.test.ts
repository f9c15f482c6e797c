import { readFileSync } from 'node:fs'
import { errorCodes, problemType, type PortcullisErrorCode } from '@portcullis/core'
import { describe, expect, it } from 'vitest'

// The error reference and the code table must never drift (the problem+json `type` links here).
const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
const rows = new Map<string, string>()
const anchors = new Map<string, string>()
for (const line of doc.split('\n')) {
  const cells = line.split('|').map((cell) => cell.trim())
  const match = /^<a id="([a-z_]+)"><\/a>`(PCL_[A-Z_]+)`$/.exec(cells[1] ?? '')
  if (match === null) continue
  rows.set(match[2]!, cells[2] ?? '')
  anchors.set(match[2]!, match[1]!)
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
})
