import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { documentationFiles } from './snippets.js'

// Links cannot rot: every relative link of the docs, and every link to this repository's files
// on GitHub (in the docs, and in the sources' TSDoc `@see` and error `type` URLs), names a file
// that exists, and an anchor that one of its headings (or an explicit `<a id>`) defines.

const root = fileURLToPath(new URL('../..', import.meta.url))
const REPO = 'https://github.com/portcullis-dev/portcullis/'
const REPO_LINK =
  /https:\/\/github\.com\/portcullis-dev\/portcullis\/(?:blob|tree)\/main\/([^\s)'"`>\]]*)/g
const MD_LINK = /\]\(([^)\s]+)\)/g

/** GitHub's heading anchors (github-slugger), plus explicit `<a id="...">` / `<a name="...">`. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>()
  const counts = new Map<string, number>()
  let fenced = false
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced
    if (fenced) continue
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading !== null) {
      const text = heading[1]!.replace(/<[^>]+>/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      const base = text
        .toLowerCase()
        .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
        .replace(/ /g, '-')
      const seen = counts.get(base) ?? 0
      counts.set(base, seen + 1)
      anchors.add(seen === 0 ? base : `${base}-${seen}`)
    }
    for (const match of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]!)
  }
  return anchors
}

/** A problem with one link target (a repository-relative path and an optional anchor), or null. */
function check(target: string): string | null {
  const [path = '', anchor] = target.split('#') as [string, string | undefined]
  const file = join(root, decodeURIComponent(path))
  if (!existsSync(file)) return `no such file: ${path}`
  if (anchor === undefined || anchor === '') return null
  const directory = statSync(file).isDirectory()
  // GitHub's own anchor on a folder page: its README.
  if (directory && anchor === 'readme' && existsSync(join(file, 'README.md'))) return null
  const markdown = directory ? join(file, 'README.md') : file
  if (!markdown.endsWith('.md') || !existsSync(markdown)) return `anchor on a non-Markdown file`
  return anchorsOf(readFileSync(markdown, 'utf8')).has(anchor) ? null : `no anchor #${anchor}`
}

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') sources(path, out)
    } else if (/\.(ts|mjs|js)$/.test(entry.name)) {
      out.push(path)
    }
  }
  return out
}

describe('links', () => {
  it('every relative link of the docs resolves to a file and anchor', () => {
    const broken: string[] = []
    for (const file of documentationFiles(root)) {
      const text = readFileSync(join(root, file), 'utf8').replace(/^```[\s\S]*?^```/gm, '')
      for (const [, href] of text.matchAll(MD_LINK)) {
        if (/^[a-z]+:/i.test(href!)) continue
        const target = href!.startsWith('#')
          ? `${file}${href}`
          : relative(root, normalize(join(root, dirname(file), href!)))
        const problem = check(target)
        if (problem !== null) broken.push(`${file}: ${href} (${problem})`)
      }
    }
    expect(broken).toEqual([])
  })

  it('every link to this repository on GitHub names a file that exists', () => {
    const files = [...documentationFiles(root), ...sources('packages')]
    const broken: string[] = []
    let count = 0
    for (const file of files) {
      for (const [url, target] of readFileSync(join(root, file), 'utf8').matchAll(REPO_LINK)) {
        count++
        const problem = check(target!.replace(/[.,;:]+$/, ''))
        if (problem !== null) broken.push(`${file}: ${url} (${problem})`)
      }
    }
    expect(count).toBeGreaterThan(10)
    expect(broken).toEqual([])
  })

  it('finds anchors the way GitHub makes them', () => {
    const anchors = anchorsOf(
      '# Named policies and `extends`\n## Options\n## Options\n<a id="pcl_x"></a>\n',
    )
    expect([...anchors]).toEqual(['named-policies-and-extends', 'options', 'options-1', 'pcl_x'])
    expect(REPO.length).toBeGreaterThan(0)
  })
})
