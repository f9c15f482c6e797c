import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTestIssuer } from '@portcullis/testing'
import { describe, expect, it } from 'vitest'
import { buildApp } from './app.js'
import { columnsOf, renderTable, TERMINAL_COLUMNS, wrap } from './table.js'
import { runTour, tourPassed } from './tour.js'

describe('the demo tour', () => {
  it('refuses every attack and serves every legitimate call', async () => {
    const issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
    const app = await buildApp(issuer)
    const unlimited = await buildApp(issuer, { egress: false })
    const steps = await runTour(app, issuer, undefined, unlimited)
    await Promise.all([app.close(), unlimited.close()])
    expect(tourPassed(steps)).toBe(true)
    expect(steps.find((s) => s.attempt === 'anonymous bulk query')).toMatchObject({
      status: 401,
      code: 'PCL_TOKEN_MISSING',
    })
    expect(steps.find((s) => s.attempt === 'token signed with alg: none')).toMatchObject({
      status: 401,
      code: 'PCL_TOKEN_INVALID',
    })
    const code = (name: string) => steps.find((s) => s.attempt === name)?.code
    expect(code("a billing service's token, stolen")).toBe('PCL_CALLER_NOT_ALLOWED')
    expect(code("a valid token reading another user's history")).toBe('PCL_CLAIM_MISMATCH')
    expect(code('bulk export in one request')).toBe('PCL_TOO_MANY_ITEMS')
    expect(code('a scraping loop over every id')).toBe('PCL_RATE_LIMITED')
    expect(steps.find((s) => s.attempt === 'a handler that returns the whole row')?.ok).toBe(true)
    // Bulk extraction with a valid token: everything without the limits, a bounded share with.
    expect(
      steps.find((s) => s.attempt === 'a valid token pages through all history'),
    ).toMatchObject({
      status: 429,
      code: 'PCL_BUDGET_EXHAUSTED',
      note: 'with limits: 5 of 20 requests, 100 rows',
      before: { status: 200, note: 'without limits: 20 of 20 requests, 400 rows' },
    })
    expect(
      steps.find((s) => s.attempt === "a valid token walks every user's history"),
    ).toMatchObject({
      status: 429,
      code: 'PCL_ENUMERATION',
      note: 'with limits: 5 of 40 requests, 50 rows',
      before: { status: 200, note: 'without limits: 40 of 40 requests, 400 rows' },
    })
  })
})

describe('the demo fits a 100-column terminal', () => {
  it('prints no line wider than 100 columns, and every step shows before and after', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..')
    const run = spawnSync(join(root, 'node_modules', '.bin', 'tsx'), ['src/demo.ts'], {
      cwd: root,
      encoding: 'utf8',
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'REDIS_URL')),
      timeout: 60_000,
    })
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stdout.split('\n')
    const wide = lines.filter((line) => columnsOf(line) > TERMINAL_COLUMNS)
    expect(wide).toEqual([])
    expect(run.stdout).toContain('before: no guard')
    expect(run.stdout).toContain('after: Portcullis')
    // The unguarded service leaked what the guarded one refused.
    expect(run.stdout).toMatch(
      /│ anonymous bulk query +│ 200: 300 items[^│]*│ 401 PCL_TOKEN_MISSING/u,
    )
  }, 90_000)

  it('the tour records, for each step, what the unguarded service answered', async () => {
    const issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
    const app = await buildApp(issuer)
    const unguarded = await buildApp(issuer, { unguarded: true })
    const steps = await runTour(app, issuer, unguarded)
    await Promise.all([app.close(), unguarded.close()])
    expect(steps.every((s) => s.before !== undefined)).toBe(true)
    expect(steps.find((s) => s.attempt === 'anonymous bulk query')?.before).toEqual({
      status: 200,
      note: '200: 300 items, with uploadIp, storagePath, moderation, email',
    })
    expect(steps.find((s) => s.attempt === 'a scraping loop over every id')?.before?.note).toBe(
      '30 of 30 served, whole rows',
    )
  })

  it('wraps cells (long words cut) so that a table never exceeds its width', () => {
    const long = 'x'.repeat(150)
    const table = renderTable(
      [{ header: 'a' }, { header: 'b', weight: 3 }, { header: 'c' }],
      [
        [long, `${long} and some words ${long}`, 'short'],
        ['multi\nline', '', 'é ü ✓'],
      ],
      60,
    )
    for (const line of table.split('\n')) expect(columnsOf(line)).toBe(60)
    expect(table).toMatch(/│ multi +│/u)
    expect(table).toMatch(/│ line +│/u)
    expect(wrap('one two three', 7)).toEqual(['one two', 'three'])
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij'])
  })

  it('keeps a narrow table at its natural width', () => {
    const table = renderTable([{ header: 'k' }, { header: 'v' }], [['a', 'b']])
    expect(table.split('\n')[0]).toBe('┌───┬───┐')
  })
})
