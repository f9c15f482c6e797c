import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { InventoryEntry } from '@portcullis/policy'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AUDIT_USAGE, runAudit } from './audit.js'
import { calls } from './fixtures/stub-apps.js'

const cwd = fileURLToPath(new URL('.', import.meta.url))

async function audit(...argv: string[]) {
  let stdout = ''
  let stderr = ''
  const code = await runAudit(argv, {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    cwd,
    env: {},
  })
  return { code, stdout, stderr }
}

function rowOf(table: string, method: string, url: string): string | undefined {
  return table.split('\n').find((line) => line.startsWith(`${method} `) && line.includes(` ${url}`))
}

describe('portcullis audit: a fully guarded app', () => {
  it('prints every route, HEAD rows, constraints and the public reason, and exits 0', async () => {
    const { code, stdout, stderr } = await audit('./fixtures/guarded-app.ts')
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const lines = stdout.split('\n')
    expect(lines[0]).toMatch(/^METHOD +URL +ACCESS +RATE LIMIT +RESPONSE +BODY$/)
    expect(rowOf(stdout, 'GET', '/healthz')).toMatch(
      /^GET +\/healthz +public: liveness probe +- +NONE: success bodies are not allowlisted +-$/,
    )
    expect(rowOf(stdout, 'HEAD', '/healthz')).toContain('public: liveness probe')
    expect(rowOf(stdout, 'GET', '/v1/videos/:id')).toMatch(
      /authenticated +- +NONE: success bodies are not allowlisted +-$/,
    )
    expect(rowOf(stdout, 'HEAD', '/v1/videos/:id')).toContain('authenticated')
    expect(rowOf(stdout, 'POST', '/v1/videos')).toMatch(
      /authenticated +- +NONE: success bodies are not allowlisted +NONE: request bodies are not allowlisted$/,
    )
    // Flagged under the table, without failing the audit (requireBody makes it a startup error).
    expect(stdout).toContain(
      '1 route accepts a request body without guard.body (any field may be written):\n  - POST /v1/videos\n',
    )
    expect(rowOf(stdout, 'GET', '/v1/stats')).toContain('/v1/stats {"version":"2.0.0"}')
    expect(stdout).toContain('\n7 routes: 5 guarded, 2 public, 0 unguarded\n')
    // Columns line up: ACCESS starts at the same offset on every row.
    const accessAt = lines[0]!.indexOf('ACCESS')
    for (const line of lines.slice(1, 8)) {
      expect(line.slice(accessAt - 2, accessAt)).toBe('  ')
      expect(line[accessAt]).not.toBe(' ')
      expect(line).toBe(line.trimEnd())
    }
  })

  it('accepts a sync factory as the default export', async () => {
    const { code, stdout } = await audit('./fixtures/factories.ts')
    expect(code).toBe(0)
    expect(rowOf(stdout, 'GET', '/sync')).toContain('authenticated')
  })

  it('accepts an async factory through --export', async () => {
    const { code, stdout } = await audit('./fixtures/factories.ts', '--export', 'buildAsync')
    expect(code).toBe(0)
    expect(rowOf(stdout, 'GET', '/async')).toContain('public: built by an async factory')
  })

  it('accepts a named instance through --export', async () => {
    const { code, stdout } = await audit('./fixtures/factories.ts', '--export=instance')
    expect(code).toBe(0)
    expect(rowOf(stdout, 'GET', '/named')).toContain('authenticated')
  })

  it('prints { ok: true, routes, findings } with --json', async () => {
    const { code, stdout, stderr } = await audit('./fixtures/factories.ts', '--json')
    expect(code).toBe(0)
    expect(stderr).toBe('')
    expect(JSON.parse(stdout)).toEqual({
      ok: true,
      routes: [
        expect.objectContaining({ method: 'GET', url: '/sync', guarded: true, public: null }),
        expect.objectContaining({ method: 'HEAD', url: '/sync', policy: 'authenticated' }),
      ],
      findings: [],
    })
  })
})

describe('portcullis audit: findings exit 1', () => {
  it('an unguarded route in fail mode: the table, and the route on stderr', async () => {
    const { code, stdout, stderr } = await audit('./fixtures/unguarded-app.ts')
    expect(code).toBe(1)
    expect(rowOf(stdout, 'DELETE', '/v1/videos/:id')).toMatch(/ UNGUARDED +- +- +-$/)
    expect(rowOf(stdout, 'GET', '/healthz')).toContain('public: liveness probe')
    expect(stdout).toContain('3 routes: 0 guarded, 2 public, 1 unguarded')
    expect(stderr).toBe(
      'portcullis audit: app.ready() failed (PCL_UNGUARDED_ROUTE); 1 problem:\n' +
        '  - DELETE /v1/videos/:id has no guard\n',
    )
  })

  it('an unguarded route in fail mode, as JSON', async () => {
    const { code, stdout, stderr } = await audit('./fixtures/unguarded-app.ts', '--json')
    expect(code).toBe(1)
    expect(stderr).toBe('')
    const result = JSON.parse(stdout)
    expect(result).toEqual({
      ok: false,
      routes: expect.arrayContaining([
        expect.objectContaining({ method: 'DELETE', url: '/v1/videos/:id', guarded: false }),
      ]),
      findings: ['DELETE /v1/videos/:id has no guard'],
      error: {
        code: 'PCL_UNGUARDED_ROUTE',
        message: expect.stringContaining('DELETE /v1/videos/:id'),
        routes: ['DELETE /v1/videos/:id'],
      },
    })
  })

  it('an invalid guard does not hide an unguarded route: the table and both findings', async () => {
    const { code, stdout, stderr } = await audit('./fixtures/invalid-and-unguarded.ts')
    expect(code).toBe(1)
    expect(rowOf(stdout, 'GET', '/v1/videos')).toMatch(/ INVALID GUARD +- +- +-$/)
    expect(rowOf(stdout, 'HEAD', '/v1/videos')).toMatch(/ INVALID GUARD +- +- +-$/)
    expect(rowOf(stdout, 'DELETE', '/v1/videos/:id')).toMatch(/ UNGUARDED +- +- +-$/)
    expect(stdout).toContain('5 routes: 0 guarded, 2 public, 1 unguarded, 2 with an invalid guard')
    expect(stderr).toMatch(
      /^portcullis audit: app\.ready\(\) failed \(PCL_INVALID_GUARD\); 2 problems:\n/,
    )
    expect(stderr).toContain(
      "  - GET /v1/videos: guard.scopez is not a known guard key (a misspelled requirement would be no requirement): did you mean 'scopes'?\n",
    )
    expect(stderr).toContain('  - DELETE /v1/videos/:id has no guard\n')
    expect(stderr).not.toMatch(/HEAD \/v1\/videos has no guard/)
  })

  it("an unguarded route in 'deny' mode: the app starts, the table says UNGUARDED", async () => {
    const { code, stdout, stderr } = await audit('./fixtures/deny-mode-app.ts')
    expect(code).toBe(1)
    expect(rowOf(stdout, 'POST', '/admin/reindex')).toMatch(/ UNGUARDED +- +- +-$/)
    expect(rowOf(stdout, 'GET', '/v1/videos')).toContain('authenticated')
    expect(stdout).toContain('3 routes: 2 guarded, 0 public, 1 unguarded')
    expect(stderr).toBe('portcullis audit: 1 problem:\n  - POST /admin/reindex has no guard\n')
  })

  it("an unguarded route in 'deny' mode, as JSON", async () => {
    const { code, stdout } = await audit('./fixtures/deny-mode-app.ts', '--json')
    expect(code).toBe(1)
    const result = JSON.parse(stdout)
    expect(result.ok).toBe(false)
    expect(result.routes).toContainEqual(
      expect.objectContaining({ method: 'POST', url: '/admin/reindex', guarded: false }),
    )
  })

  it('an invalid guard (PCL_INVALID_GUARD)', async () => {
    const { code, stderr } = await audit('./fixtures/invalid-guard.ts')
    expect(code).toBe(1)
    expect(stderr).toContain('PCL_INVALID_GUARD')
    expect(stderr).toContain('GET /v1/videos')
  })

  it('invalid plugin options, rejected while the module loads (PCL_INVALID_OPTIONS)', async () => {
    const { code, stdout } = await audit('./fixtures/invalid-options.ts', '--json')
    expect(code).toBe(1)
    expect(JSON.parse(stdout)).toMatchObject({
      ok: false,
      error: { code: 'PCL_INVALID_OPTIONS', routes: [] },
    })
  })

  it('a public route with an empty reason', async () => {
    const { code, stdout, stderr } = await audit(
      './fixtures/stub-apps.ts',
      '--export',
      'emptyReason',
    )
    expect(code).toBe(1)
    expect(rowOf(stdout, 'GET', '/metrics')).toContain('public: (no reason)')
    expect(stderr).toContain('GET /metrics is public without a reason')
  })

  it('lists routes the error message leaves out, and closes the app after a failed ready', async () => {
    calls.length = 0
    const { code, stderr } = await audit('./fixtures/stub-apps.ts', '--export', 'readyRejects')
    expect(code).toBe(1)
    expect(stderr).toBe(
      'portcullis audit: app.ready() failed (PCL_UNGUARDED_ROUTE); 1 problem:\n' +
        '  - PCL_UNGUARDED_ROUTE: 1 route has no guard (GET /hidden)\n',
    )
    // close() rejects in this stub: ignored, the verdict stands.
    expect(calls).toEqual(['readyRejects.ready', 'readyRejects.close'])
  })
})

describe('portcullis audit: the table', () => {
  it('shows control characters in a reason as escapes, so a reason cannot rewrite the log', async () => {
    const { code, stdout } = await audit('./fixtures/stub-apps.ts', '--export', 'controlCharacters')
    expect(code).toBe(0)
    expect(rowOf(stdout, 'GET', '/healthz')).toContain('public: probe\\x0a\\x1b[2Jcleared')
    expect(stdout).not.toContain('\u001b')
  })
})

describe('portcullis audit: report-only routes', () => {
  it('are marked loudly and pass without --strict', async () => {
    const { code, stdout } = await audit('./fixtures/stub-apps.ts', '--export', 'reportOnly')
    expect(code).toBe(0)
    expect(rowOf(stdout, 'GET', '/v1/videos')).toMatch(/ REPORT-ONLY authenticated +- +- +-$/)
    expect(rowOf(stdout, 'GET', '/v1/users')).toMatch(
      / authenticated +100 per 1 minute +allow: id, name +-$/,
    )
    expect(stdout).toContain('2 routes: 2 guarded, 0 public, 0 unguarded, 1 report-only')
  })

  it('are marked once in a real app with reportOnly: true, and fail with --strict', async () => {
    const relaxed = await audit('./fixtures/report-only-app.ts')
    expect(relaxed.code).toBe(0)
    const row = rowOf(relaxed.stdout, 'GET', '/v1/videos')
    expect(row).toMatch(
      / REPORT-ONLY .*authenticated +- +NONE: success bodies are not allowlisted +-$/,
    )
    expect(row?.match(/REPORT-ONLY/g)).toHaveLength(1)
    expect(rowOf(relaxed.stdout, 'GET', '/healthz')).not.toContain('REPORT-ONLY')
    const strict = await audit('./fixtures/report-only-app.ts', '--strict')
    expect(strict.code).toBe(1)
    expect(strict.stderr).toContain('GET /v1/videos is report-only')
  })

  it('fail with --strict', async () => {
    const { code, stderr } = await audit(
      './fixtures/stub-apps.ts',
      '--export',
      'reportOnly',
      '--strict',
    )
    expect(code).toBe(1)
    expect(stderr).toContain('GET /v1/videos is report-only')
  })

  it('fail with --strict, as JSON', async () => {
    const { code, stdout } = await audit(
      './fixtures/stub-apps.ts',
      '--strict',
      '--json',
      '--export',
      'reportOnly',
    )
    expect(code).toBe(1)
    const result = JSON.parse(stdout)
    expect(result.ok).toBe(false)
    expect(result.routes[0]).toMatchObject({ url: '/v1/videos', reportOnly: true })
  })
})

describe('portcullis audit: the audit cannot run, exit 2', () => {
  it('a default export that is not an app', async () => {
    const { code, stdout, stderr } = await audit('./fixtures/not-an-app.ts')
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toContain('the default export of ./fixtures/not-an-app.ts is not a Fastify app')
  })

  it('a named export that is not an app, or that does not exist', async () => {
    const notApp = await audit('./fixtures/factories.ts', '--export', 'notAnApp')
    expect(notApp.code).toBe(2)
    expect(notApp.stderr).toContain('the export "notAnApp"')
    const missing = await audit('./fixtures/factories.ts', '--export', 'nope')
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('has no export named "nope"')
    expect(missing.stderr).toContain('buildAsync')
  })

  it('a factory that throws', async () => {
    const { code, stderr } = await audit('./fixtures/factories.ts', '--export', 'throwingFactory')
    expect(code).toBe(2)
    expect(stderr).toContain('threw: DATABASE_URL is not set')
  })

  it('an app without Portcullis', async () => {
    const { code, stderr } = await audit('./fixtures/no-portcullis.ts')
    expect(code).toBe(2)
    expect(stderr).toContain('Portcullis is not registered')
  })

  it('a module that throws on import, without a stack', async () => {
    const { code, stderr } = await audit('./fixtures/throws-on-import.ts')
    expect(code).toBe(2)
    expect(stderr).toContain('cannot load ./fixtures/throws-on-import.ts: REDIS_URL is not set')
    expect(stderr).not.toMatch(/^\s+at /m)
    expect(stderr.trim().split('\n')).toHaveLength(1)
  })

  it('a module that throws on import, with the stack under PORTCULLIS_DEBUG=1', async () => {
    let stderr = ''
    const code = await runAudit(['./fixtures/throws-on-import.ts'], {
      stdout: () => undefined,
      stderr: (text) => void (stderr += text),
      cwd,
      env: { PORTCULLIS_DEBUG: '1' },
    })
    expect(code).toBe(2)
    expect(stderr).toMatch(/^\s+at /m)
  })

  it('a module that does not exist', async () => {
    const { code, stderr } = await audit('./fixtures/nowhere.ts')
    expect(code).toBe(2)
    expect(stderr).toContain('cannot load ./fixtures/nowhere.ts')
  })

  it('a startup error that is not a Portcullis finding', async () => {
    const { code, stdout, stderr } = await audit('./fixtures/ready-fails.ts', '--json')
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toBe(
      'portcullis audit: app.ready() failed: connect ECONNREFUSED 127.0.0.1:5432\n',
    )
  })
})

describe('portcullis audit: arguments', () => {
  it('--help prints the usage on stdout and exits 0', async () => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await audit(flag)
      expect(code).toBe(0)
      expect(stdout).toBe(AUDIT_USAGE)
      expect(stderr).toBe('')
    }
    expect(AUDIT_USAGE).toMatch(/^Usage: portcullis audit <app module>/)
  })

  it('an unknown flag: usage on stderr, exit 2', async () => {
    const { code, stdout, stderr } = await audit('./fixtures/guarded-app.ts', '--verbose')
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toContain("Unknown option '--verbose'")
    expect(stderr).toContain(AUDIT_USAGE)
  })

  it('a missing module: usage on stderr, exit 2', async () => {
    const { code, stderr } = await audit('--json')
    expect(code).toBe(2)
    expect(stderr).toContain('missing the app module')
    expect(stderr).toContain(AUDIT_USAGE)
  })

  it('two modules, or --export without a name: exit 2', async () => {
    expect((await audit('a.js', 'b.js')).code).toBe(2)
    expect((await audit('a.js', '--export')).code).toBe(2)
    expect((await audit('a.js', '--export=')).code).toBe(2)
  })
})

describe('portcullis audit: egress limits', () => {
  it('shows each route budget and enumeration limit in their own columns, and in --json', async () => {
    const { code, stdout } = await audit('./fixtures/egress-app.ts')
    expect(code).toBe(0)
    const [header] = stdout.split('\n')
    expect(header).toMatch(/ +BODY +BUDGET +ENUMERATION$/)
    expect(rowOf(stdout, 'GET', '/v1/users/:id/history')).toMatch(
      /1000 items per 1 hour by principal \(budget viewing-history\) +200 distinct :id per 1 hour by principal$/,
    )
    expect(rowOf(stdout, 'GET', '/healthz')).toMatch(/ -  +-$/)
    const json = JSON.parse((await audit('./fixtures/egress-app.ts', '--json')).stdout) as {
      routes: { method: string; url: string; budget: string | null; enumeration: string | null }[]
    }
    expect(json.routes.find((r) => r.url === '/healthz')).toMatchObject({
      budget: null,
      enumeration: null,
    })
    expect(json.routes.find((r) => r.url === '/v1/users/:id/history')).toMatchObject({
      budget: '1000 items per 1 hour by principal (budget viewing-history)',
      enumeration: '200 distinct :id per 1 hour by principal',
    })
  })

  it('leaves the columns out when no route declares one', async () => {
    const { stdout } = await audit('./fixtures/guarded-app.ts')
    expect(stdout).not.toContain('BUDGET')
  })
})

describe('portcullis audit: the exposure register', () => {
  it('fails naming route and field when a pii field can leave a public route', async () => {
    const { code, stderr } = await audit('./fixtures/register-apps.ts', '--export', 'piiPublic')
    expect(code).toBe(1)
    expect(stderr).toContain(
      "GET /v1/profile/public: field 'owner.email' (pii) can leave this public route (profile cards)",
    )
  })

  it('fails when a pii field leaves a route that requires no scope and no caller', async () => {
    const { code, stderr } = await audit('./fixtures/register-apps.ts', '--export', 'piiOpen')
    expect(code).toBe(1)
    expect(stderr).toContain(
      "GET /v1/me: field 'contact.email' (pii) can leave this route that requires no scope and no caller",
    )
  })

  it('passes a pii field behind a scope, and exports the register as JSON', async () => {
    const { code, stdout, stderr } = await audit(
      './fixtures/register-apps.ts',
      '--export',
      'baseline',
      '--format',
      'json',
    )
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const report = JSON.parse(stdout) as { routes: InventoryEntry[] }
    const row = report.routes.find((r) => r.method === 'GET' && r.url === '/v1/videos/:id')!
    expect(row.access?.callers).toEqual(['player-svc', 'search-svc'])
    expect(row.exposure.groups).toContainEqual({
      status: 'success',
      scope: 'videos:internal',
      fields: [
        { path: 'owner.email', class: 'pii' },
        { path: 'uploadIp', class: 'internal' },
      ],
    })
    expect(row.limits.rateLimit).toMatchObject({ max: 100, timeWindow: 60_000 })
  })

  it('exports the register as Markdown', async () => {
    const { code, stdout } = await audit(
      './fixtures/register-apps.ts',
      '--export',
      'baseline',
      '--format',
      'markdown',
    )
    expect(code).toBe(0)
    expect(stdout).toContain('## GET /v1/videos/:id')
    expect(stdout).toContain(
      '- Who may call: scopes videos:list AND videos:read; callers player-svc, search-svc; claims tenant in ["a","b"]',
    )
    expect(stdout).toContain('| success | holders of videos:internal | owner.email | pii |')
    expect(stdout).toContain('| success | any caller | items[].watchedAt | pii |')
    expect(stdout).toContain('## GET /healthz')
    expect(stdout).not.toContain('## HEAD /healthz')
  })

  it('refuses an unknown format and --update without --baseline', async () => {
    expect((await audit('./fixtures/register-apps.ts', '--format', 'xml')).code).toBe(2)
    expect((await audit('./fixtures/register-apps.ts', '--update')).code).toBe(2)
  })
})

describe('portcullis audit --baseline: the policy gate', () => {
  let dir: string
  let lock: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-gate-'))
    lock = join(dir, 'portcullis.lock.json')
    const written = await audit(
      './fixtures/register-apps.ts',
      '--export',
      'baseline',
      '--baseline',
      lock,
      '--update',
    )
    expect(written.code).toBe(0)
    expect(written.stderr).toContain('wrote the baseline')
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const gate = (name: string) =>
    audit('./fixtures/register-apps.ts', '--export', name, '--baseline', lock)

  it('passes the app it was written from', async () => {
    const { code, stderr } = await gate('baseline')
    expect(stderr).toBe('')
    expect(code).toBe(0)
  })

  it.each(['reordered', 'namedPolicy', 'tightened'])('passes a %s policy', async (name) => {
    const { code, stderr } = await gate(name)
    expect(stderr).toBe('')
    expect(code).toBe(0)
  })

  it('a refactor produces no diff in the written register', async () => {
    const other = join(dir, 'refactor.lock.json')
    await audit(
      './fixtures/register-apps.ts',
      '--export',
      'namedPolicy',
      '--baseline',
      other,
      '--update',
    )
    expect(await readFile(other, 'utf8')).toBe(await readFile(lock, 'utf8'))
  })

  it.each([
    ['scopeRemoved', "GET /v1/videos/:id: scope 'videos:list' removed"],
    ['allOfToAnyOf', "GET /v1/videos/:id: scope 'videos:list' turned from allOf into anyOf"],
    ['madePublic', "GET /v1/history: route made public ('made public')"],
    ['callerAdded', "GET /v1/videos/:id: caller 'crawler-svc' added"],
    ['claimRemoved', "GET /v1/videos/:id: claim matcher 'tenant' removed"],
    ['fieldAdded', "GET /v1/videos/:id: allowlist field 'storagePath' added to success responses"],
    ['classWidened', "GET /v1/videos/:id: field 'owner.email' now reaches any caller"],
    ['classWidened', "GET /v1/videos/:id: class 'pii' now reachable by any caller"],
    ['rateRaised', 'GET /v1/videos/:id: rate limit raised from 100 per 60000 ms to 1000'],
    ['maxItemsRaised', 'GET /v1/videos/:id: maxItems raised from 50 to 500'],
    ['reportOnly', 'GET /v1/videos/:id: report-only switched on'],
  ])('catches %s, naming the route and the change', async (name, change) => {
    const { code, stderr } = await gate(name)
    expect(code).toBe(1)
    expect(stderr).toContain(change)
  })

  it('lists the weakenings in the JSON report', async () => {
    const { code, stdout } = await audit(
      './fixtures/register-apps.ts',
      '--export',
      'callerAdded',
      '--baseline',
      lock,
      '--json',
    )
    expect(code).toBe(1)
    expect(JSON.parse(stdout)).toMatchObject({
      ok: false,
      weakenings: [{ route: 'GET /v1/videos/:id', change: "caller 'crawler-svc' added" }],
    })
  })

  it('cannot run without a readable baseline (exit 2, never a pass)', async () => {
    const missing = await gate('nope')
    expect(missing.code).toBe(2)
    const { code, stderr } = await audit(
      './fixtures/register-apps.ts',
      '--export',
      'baseline',
      '--baseline',
      join(dir, 'absent.json'),
    )
    expect(code).toBe(2)
    expect(stderr).toContain('--update')
  })

  it('--update rewrites the baseline, after which the change passes', async () => {
    const other = join(dir, 'update.lock.json')
    await writeFile(other, await readFile(lock, 'utf8'))
    expect(
      (await audit('./fixtures/register-apps.ts', '--export', 'callerAdded', '--baseline', other))
        .code,
    ).toBe(1)
    await audit(
      './fixtures/register-apps.ts',
      '--export',
      'callerAdded',
      '--baseline',
      other,
      '--update',
    )
    expect(
      (await audit('./fixtures/register-apps.ts', '--export', 'callerAdded', '--baseline', other))
        .code,
    ).toBe(0)
  })
})
