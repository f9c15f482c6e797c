import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type * as ExpressModule from 'express'
import type * as FastifyModule from 'fastify'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  CODE_LANGS,
  documentationSnippets,
  extractSnippets,
  unstatedSkips,
  type Snippet,
} from './snippets.js'

// Every code block of the docs compiles against the packages' sources, so the docs cannot drift
// from the API. A block may use the names declared in CONTEXT without defining them (`app`,
// `handler`...): guides show fragments of an app, and these stand for the rest of it. A block
// with `declare module` (typed scopes) augments types for every file of a program, so it gets a
// program of its own.
//
// And every complete example boots, as a reader would run it: a block not marked
// `<!-- snippet: fragment -->` runs as a module against the packages' sources, and every app it
// creates starts (Fastify: `app.ready()`; Express: `guard.seal(app)` must have run). `listen`
// starts the app without opening a port; a module that exports a factory has it called. A
// complete example defines everything it uses but the application's own data access
// (`handler`, `videos`, `db`, `rows`), which STAND_INS provide.

// The apps the examples create, and what their loggers wrote.
const booted = vi.hoisted(() => ({
  fastify: [] as { ready(): PromiseLike<unknown>; close(): PromiseLike<unknown> }[],
  express: [] as object[],
  logs: [] as string[],
}))

vi.mock('fastify', async (importOriginal) => {
  const real = await importOriginal<typeof FastifyModule>()
  const create = real.default as unknown as (options?: Record<string, unknown>) => {
    ready(): Promise<unknown>
    close(): Promise<unknown>
    listen: unknown
  }
  function bootedFastify(options: Record<string, unknown> = {}) {
    const app = create({
      ...options,
      logger: { level: 'info', stream: { write: (line: string) => void booted.logs.push(line) } },
    })
    // Starts the app as `listen` would (plugins loaded, onReady hooks run), without a port.
    app.listen = async () => {
      await app.ready()
      return 'http://127.0.0.1:0'
    }
    booted.fastify.push(app)
    return app
  }
  return { ...real, default: bootedFastify, fastify: bootedFastify }
})

vi.mock('express', async (importOriginal) => {
  const real = await importOriginal<typeof ExpressModule & { default: unknown }>()
  const create = real.default as () => { listen: unknown }
  function bootedExpress() {
    const app = create()
    app.listen = () => ({ close: (done?: () => void) => done?.(), address: () => null })
    booted.express.push(app)
    return app
  }
  return { ...real, default: Object.assign(bootedExpress, create) }
})

const root = fileURLToPath(new URL('../..', import.meta.url))
const snippetDir = `${root}test/docs/__snippets__/`

const CONTEXT = `
import type { AuditEvent } from '@portcullis/core'
import type { PortcullisOptions } from '@portcullis/fastify'
import type { Principal } from '@portcullis/core'
import type { TokensOptions } from '@portcullis/tokens'
import type { FastifyInstance, FastifyPluginAsync, RouteHandlerMethod } from 'fastify'

interface Video {
  id: string
  title: string
  durationSec: number
  owner: { id: string; email: string }
  tags: string[]
  uploadIp: string
}

declare global {
  /** A Fastify app on which Portcullis is registered. */
  const app: FastifyInstance
  /** Any route handler. */
  const handler: RouteHandlerMethod
  /** The tokens options of the app. */
  const tokens: TokensOptions
  /** The Portcullis options of the app. */
  const options: PortcullisOptions
  /** A plugin holding some routes. */
  const adminRoutes: FastifyPluginAsync
  const videos: { get(id: string): Promise<Video>; list(): Promise<Video[]> }
  const db: { videos: { findById(id: string): Promise<Video | undefined> } }
  const rows: Video[]
  const principal: Principal
  const events: AuditEvent[]
  function send(value: unknown): void
  function fail(error: Error): void
}
`

/** The declaration an app without the allowlist plugin amounts to, at the type level. */
const RELAXED_RESPONSE: VirtualFile = {
  name: `${snippetDir}relaxed-response.ts`,
  text: `export {}
declare module '@portcullis/allowlist' {
  interface AllowlistTypes { requireResponse: false }
}
`,
  snippet: null,
}

const importsPortcullis = (code: string): boolean =>
  /from '(?:@portcullis\/[\w-]+|portcullis)'/.test(code)
// The packages whose types load the allowlist's (and its requirement of `response`).
const bringsAllowlist = (code: string): boolean =>
  /from '(?:portcullis|@portcullis\/(?:fastify|express|allowlist))'/.test(code)

function compilerOptions(): ts.CompilerOptions {
  const configFile = `${root}tsconfig.json`
  const { config } = ts.readConfigFile(configFile, (path) => ts.sys.readFile(path))
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configFile)
  return { ...parsed.options, noEmit: true, allowJs: true, checkJs: true }
}

interface VirtualFile {
  readonly name: string
  readonly text: string
  readonly snippet: Snippet | null
}

function fileOf(snippet: Snippet, index: number): VirtualFile {
  const js = snippet.lang === 'js' || snippet.lang === 'javascript' || snippet.lang === 'mjs'
  const base = snippet.file.replace(/[^A-Za-z0-9]+/g, '-')
  return {
    name: `${snippetDir}${base}-${snippet.line}-${index}.${js ? 'mjs' : 'ts'}`,
    text: snippet.code,
    snippet,
  }
}

/** Compiles the files in one program and returns its diagnostics, located in the Markdown. */
function typeCheck(files: VirtualFile[], options: ts.CompilerOptions): string[] {
  const context: VirtualFile = { name: `${snippetDir}context.ts`, text: CONTEXT, snippet: null }
  const virtual = new Map([context, ...files].map((file) => [file.name, file]))
  const host = ts.createCompilerHost(options, true)
  const fileExists = host.fileExists.bind(host)
  const readFile = host.readFile.bind(host)
  const getSourceFile = host.getSourceFile.bind(host)
  host.fileExists = (name) => virtual.has(name) || fileExists(name)
  host.readFile = (name) => virtual.get(name)?.text ?? readFile(name)
  host.getSourceFile = (name, language, ...rest) => {
    const file = virtual.get(name)
    if (file === undefined) return getSourceFile(name, language, ...rest)
    return ts.createSourceFile(name, file.text, language, true)
  }
  const program = ts.createProgram([...virtual.keys()], options, host)
  // Only the blocks' own diagnostics: the packages' sources are type-checked by `pnpm typecheck`.
  const diagnostics = [...virtual.keys()].flatMap((name) => {
    const source = program.getSourceFile(name)
    return source === undefined
      ? []
      : [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
  })
  return [
    ...program.getGlobalDiagnostics(),
    ...program.getOptionsDiagnostics(),
    ...diagnostics,
  ].map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
    const file = diagnostic.file === undefined ? undefined : virtual.get(diagnostic.file.fileName)
    if (file === undefined || diagnostic.start === undefined) {
      return `${diagnostic.file?.fileName ?? '(program)'}: ${message}`
    }
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start)
    const where = file.snippet === null ? 'snippet context' : file.snippet.file
    return `${where}:${(file.snippet?.line ?? 1) + line}: TS${diagnostic.code} ${message}`
  })
}

const snippets = documentationSnippets(root)
const code = snippets.filter((snippet) => CODE_LANGS.has(snippet.lang))

describe('documentation code blocks', () => {
  it('finds the code blocks of the READMEs and guides', () => {
    const files = new Set(code.map((snippet) => snippet.file))
    expect(files).toContain('README.md')
    expect(files).toContain('docs/getting-started.md')
    expect(files).toContain('docs/guides/route-guards.md')
    expect(files).toContain('packages/tokens/README.md')
    expect(code.length).toBeGreaterThan(20)
  })

  it('skips a block only with a stated reason', () => {
    expect(unstatedSkips(snippets)).toEqual([])
    // The rule itself, on a fixture that has skipped blocks with and without a reason.
    const fixture = [
      '<!-- snippet: skip because it needs a live identity provider -->',
      '```ts',
      'await fetch(issuerUrl)',
      '```',
      '<!-- snippet: skip -->',
      '',
      '```ts',
      'nothing()',
      '```',
      '<!-- snippet: skip ok -->',
      '```js',
      'short()',
      '```',
      '```ts',
      'checked()',
      '```',
    ].join('\n')
    const blocks = extractSnippets('fixture.md', fixture)
    expect(blocks.map((b) => b.skip)).toEqual([
      'because it needs a live identity provider',
      '',
      'ok',
      null,
    ])
    expect(unstatedSkips(blocks)).toEqual(['fixture.md:8', 'fixture.md:12'])
  })

  it('every JSON block parses', () => {
    for (const snippet of snippets.filter((s) => s.lang === 'json' && s.skip === null)) {
      expect(
        () => JSON.parse(snippet.code) as unknown,
        `${snippet.file}:${snippet.line}`,
      ).not.toThrow()
    }
  })

  it('every TypeScript and JavaScript block compiles against the current API', () => {
    const options = compilerOptions()
    const checked = code.filter((snippet) => snippet.skip === null)
    const files = checked.map(fileOf)
    const alone = files.filter((file) => /^\s*declare module\b/m.test(file.text))
    // A block that registers the plugins one by one, without the allowlist, is checked as its
    // reader's program would be: without the allowlist's compile-time requirement of `response`.
    const noAllowlist = files.filter(
      (file) =>
        !alone.includes(file) && importsPortcullis(file.text) && !bringsAllowlist(file.text),
    )
    const together = files.filter((file) => !alone.includes(file) && !noAllowlist.includes(file))
    const errors = [
      ...typeCheck(together, options),
      ...typeCheck([...noAllowlist, RELAXED_RESPONSE], options),
      ...alone.flatMap((file) => typeCheck([file], options)),
    ]
    expect(errors).toEqual([])
  }, 120_000)

  it('reports a block that no longer compiles, at its line in the Markdown', () => {
    const [broken] = extractSnippets(
      'docs/broken.md',
      [
        '# Broken',
        '',
        '```ts',
        "import { createVerifier } from '@portcullis/tokens'",
        "createVerifier({ issuers: 'https://auth.internal' })",
        '```',
      ].join('\n'),
    )
    const errors = typeCheck([fileOf(broken!, 0)], compilerOptions())
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^docs\/broken\.md:5: TS2322 /)
  }, 60_000)
})

/** The application's own code that complete examples call without defining it. */
const STAND_INS: Record<string, unknown> = {
  handler: () => ({}),
  videos: { get: async (id: string) => ({ id }), list: async () => [] },
  db: { videos: { findById: async () => undefined } },
  rows: [],
}

const bootDir = `${root}test/docs/.tmp/`
const kSealed = Symbol.for('portcullis.express.sealed')

/** Runs one complete example; rejects with what went wrong, located in the Markdown. */
async function boot(snippet: Snippet, index: number): Promise<void> {
  const where = `${snippet.file}:${snippet.line}`
  const js = snippet.lang === 'js' || snippet.lang === 'javascript' || snippet.lang === 'mjs'
  const file = `${bootDir}${snippet.file.replace(/[^A-Za-z0-9]+/g, '-')}-${snippet.line}-${index}.${js ? 'mjs' : 'ts'}`
  writeFileSync(file, snippet.code)
  booted.fastify.length = 0
  booted.express.length = 0
  booted.logs.length = 0
  try {
    const module = (await import(/* @vite-ignore */ file)) as { default?: unknown }
    // A module that exports its app's factory (as `portcullis audit` loads it) builds it.
    if (booted.fastify.length === 0 && typeof module.default === 'function') {
      await (module.default as () => unknown)()
    }
    for (const app of booted.fastify) await app.ready()
    for (const app of booted.express) {
      if ((app as { [kSealed]?: true })[kSealed] !== true) {
        throw new Error('creates an Express app it never seals with guard.seal(app)')
      }
    }
  } catch (err) {
    throw new Error(`${where} does not boot: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    })
  } finally {
    for (const app of booted.fastify) await app.close()
  }
}

describe('complete documentation examples', () => {
  const complete = code.filter((snippet) => snippet.skip === null && !snippet.fragment)

  beforeAll(() => {
    mkdirSync(bootDir, { recursive: true })
    Object.assign(globalThis, STAND_INS)
  })
  afterAll(() => {
    rmSync(bootDir, { recursive: true, force: true })
    for (const name of Object.keys(STAND_INS)) delete (globalThis as Record<string, unknown>)[name]
  })

  it('are the blocks not marked as fragments, in the READMEs and guides', () => {
    const files = new Set(complete.map((snippet) => snippet.file))
    expect(files).toContain('README.md')
    expect(files).toContain('docs/getting-started.md')
    expect(files).toContain('packages/express/README.md')
    expect(complete.length).toBeGreaterThan(10)
  })

  complete.forEach((snippet, index) => {
    it(`${snippet.file}:${snippet.line} boots`, async () => {
      await boot(snippet, index)
    })
  })
})
