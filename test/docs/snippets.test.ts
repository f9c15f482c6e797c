import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { CODE_LANGS, documentationSnippets, extractSnippets, type Snippet } from './snippets.js'

// Every code block of the docs compiles against the packages' sources, so the docs cannot drift
// from the API. A block may use the names declared in CONTEXT without defining them (`app`,
// `handler`...): guides show fragments of an app, and these stand for the rest of it. A block
// with `declare module` (typed scopes) augments types for every file of a program, so it gets a
// program of its own.

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
    for (const snippet of snippets.filter((s) => s.skip !== null)) {
      expect(snippet.skip, `${snippet.file}:${snippet.line}`).toMatch(/\w{3,}.*\w{3,}/)
    }
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
    const together = files.filter((file) => !alone.includes(file))
    const errors = [
      ...typeCheck(together, options),
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
