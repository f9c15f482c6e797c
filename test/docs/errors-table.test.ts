import { readFileSync } from 'node:fs'
import { errorCodes } from '@portcullis/core'
import { describe, expect, it } from 'vitest'

// The error reference and the code table must never drift (the problem+json `type` links here).
const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
const rows = new Map<string, string>()
for (const line of doc.split('\n')) {
  const cells = line.split('|').map((cell) => cell.trim())
  const code = /^`(PCL_[A-Z_]+)`$/.exec(cells[1] ?? '')?.[1]
  if (code !== undefined) rows.set(code, cells[2] ?? '')
}

describe('docs/errors.md', () => {
  it('documents every code of the table, and no other', () => {
    expect([...rows.keys()].sort()).toEqual(Object.keys(errorCodes).sort())
  })

  it('states the status of every code as the table does', () => {
    for (const [code, spec] of Object.entries(errorCodes)) {
      const expected = spec.kind === 'config' ? 'startup' : String(spec.status)
      expect(rows.get(code), code).toBe(expected)
    }
  })
})
