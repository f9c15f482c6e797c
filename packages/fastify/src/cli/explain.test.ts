import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { EXPLAIN_USAGE, runExplain } from './explain.js'

const cwd = fileURLToPath(new URL('.', import.meta.url))

async function explain(...argv: string[]) {
  let stdout = ''
  let stderr = ''
  const code = await runExplain(argv, {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    cwd,
    env: {},
  })
  return { code, stdout, stderr }
}

describe('portcullis explain', () => {
  it('prints each rule and the decision of a denial, exit 1', async () => {
    const { code, stdout } = await explain(
      './fixtures/explain-app.ts',
      '--route',
      'GET /a/7',
      '--claims',
      './fixtures/claims.json',
    )
    expect(stdout).toBe(
      [
        'GET /a/:id (params {"id":"7"})',
        '  1. a verified token: pass',
        '  2. scopes: s1: pass',
        '  3. scopes: s2: FAIL (PCL_INSUFFICIENT_SCOPE)',
        'Decision: DENY 403 PCL_INSUFFICIENT_SCOPE',
        '',
      ].join('\n'),
    )
    expect(code).toBe(1)
  })

  it('explains an allowed request (exit 0), as JSON', async () => {
    const { code, stdout } = await explain(
      './fixtures/explain-app.ts',
      '--route',
      'GET /b/:id',
      '--claims',
      './fixtures/claims.json',
      '--json',
    )
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({
      route: 'GET /b/:id',
      decision: 'allow',
      code: 'PCL_ALLOWED',
      steps: [
        { rule: 'token', outcome: 'pass' },
        { rule: 'anyOf', outcome: 'pass' },
        { rule: 'callers', outcome: 'pass' },
      ],
    })
  })

  it('without claims, the request has no token', async () => {
    const { code, stdout } = await explain('./fixtures/explain-app.ts', '--route', 'GET /g/1')
    expect(code).toBe(1)
    expect(stdout).toContain('Decision: DENY 401 PCL_TOKEN_MISSING')
  })

  it('refuses a route no route matches and bad arguments (exit 2)', async () => {
    expect((await explain('./fixtures/explain-app.ts', '--route', 'GET /nope')).code).toBe(2)
    expect((await explain('./fixtures/explain-app.ts', '--route', 'nope')).code).toBe(2)
    const help = await explain('--help')
    expect(help.stdout).toBe(EXPLAIN_USAGE)
  })
})
