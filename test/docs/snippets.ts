import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

/** A fenced code block of a Markdown file. */
export interface Snippet {
  /** The Markdown file, relative to the repository root. */
  readonly file: string
  /** 1-based line of the block's first code line in the Markdown file. */
  readonly line: number
  /** The fence's info string, lower-cased: `ts`, `js`, `json`, `sh`... */
  readonly lang: string
  readonly code: string
  /**
   * The directive in an HTML comment on the line just before the fence:
   * `<!-- snippet: skip because ... -->` leaves the block unchecked (the reason is required).
   */
  readonly skip: string | null
  /**
   * `<!-- snippet: fragment -->` on the line just before the fence: the block is part of an app
   * (it uses `app`, `tokens`... from the type-check context) and is type-checked, not booted.
   * Every other TypeScript or JavaScript block is a complete example, and must boot.
   */
  readonly fragment: boolean
}

/** Languages the suite type-checks (TypeScript, and JavaScript with `checkJs`). */
export const CODE_LANGS = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs'])

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/
const DIRECTIVE = /^<!--\s*snippet:\s*(.*?)\s*-->$/

/** Every fenced block of a Markdown text. */
export function extractSnippets(file: string, text: string): Snippet[] {
  const lines = text.split('\n')
  const snippets: Snippet[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!)
    if (open === null) continue
    const [, indent, fence] = open as unknown as [string, string, string, string]
    const lang = open[3]!.toLowerCase()
    let end = i + 1
    while (end < lines.length && !lines[end]!.trimStart().startsWith(fence)) end++
    let previous = i - 1
    while (previous >= 0 && lines[previous]!.trim() === '') previous--
    const directive = previous >= 0 ? DIRECTIVE.exec(lines[previous]!.trim()) : null
    let skip: string | null = null
    let fragment = false
    if (directive !== null) {
      const match = /^skip\b\s*(.*)$/.exec(directive[1]!)
      if (directive[1] === 'fragment') fragment = true
      else if (match === null) {
        throw new Error(`${file}:${previous + 1}: unknown snippet directive`)
      } else skip = match[1]!
    }
    const code = lines
      .slice(i + 1, end)
      .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
      .join('\n')
    snippets.push({ file, line: i + 2, lang, code, skip, fragment })
    i = end
  }
  return snippets
}

/**
 * The blocks skipped without a stated reason (`<!-- snippet: skip -->`, or a reason shorter than
 * two words of three letters), as `file:line`: a skipped block is never checked, so why must be
 * written down.
 */
export function unstatedSkips(snippets: readonly Snippet[]): string[] {
  return snippets
    .filter((snippet) => snippet.skip !== null && !/\w{3,}.*\w{3,}/.test(snippet.skip))
    .map((snippet) => `${snippet.file}:${snippet.line}`)
}

function markdownFiles(root: string, dir: string, out: string[]): string[] {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') markdownFiles(root, path, out)
    } else if (entry.name.endsWith('.md')) {
      out.push(path)
    }
  }
  return out
}

/**
 * The Markdown a user reads: the root README, `docs/`, and every package's and example's README
 * (changelogs are generated and hold no code).
 */
export function documentationFiles(root: string): string[] {
  const files = ['README.md', ...markdownFiles(root, 'docs', [])]
  for (const parent of ['packages', 'examples']) {
    for (const entry of readdirSync(join(root, parent), { withFileTypes: true })) {
      const readme = join(parent, entry.name, 'README.md')
      if (
        entry.isDirectory() &&
        readdirSync(join(root, parent, entry.name)).includes('README.md')
      ) {
        files.push(readme)
      }
    }
  }
  return files.map((file) => relative(root, join(root, file))).sort()
}

/** Every fenced block of every documentation file. */
export function documentationSnippets(root: string): Snippet[] {
  return documentationFiles(root).flatMap((file) =>
    extractSnippets(file, readFileSync(join(root, file), 'utf8')),
  )
}
