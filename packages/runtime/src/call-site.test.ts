import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { callSite } from './call-site.js'

// The frames a runtime may print: the stack is made up here (Error.prepareStackTrace), so each
// form is tested whatever Node and the test runner print.
// Kept to be put back, never called here.
// eslint-disable-next-line @typescript-eslint/unbound-method
const original = Error.prepareStackTrace
afterEach(() => {
  Error.prepareStackTrace = original
})

function siteFrom(stack: string | undefined): string {
  Error.prepareStackTrace = () => stack
  function guard(): string {
    return callSite(guard)
  }
  return guard()
}

const cwd = process.cwd()
const app = join(cwd, 'src', 'app.ts')

describe('callSite', () => {
  it('names the caller of the function it is given, relative to the working directory', () => {
    Error.prepareStackTrace = original
    function guard(): string {
      return callSite(guard)
    }
    expect(guard()).toMatch(/^packages\/runtime\/src\/call-site\.test\.ts:\d+:\d+$/u)
  })

  it.each([
    ['a named frame', `Error\n    at setup (${app}:12:5)`, 'src/app.ts:12:5'],
    ['a method frame', `Error\n    at Object.<anonymous> (${app}:1:1)`, 'src/app.ts:1:1'],
    ['a frame without a name', `Error\n    at ${app}:3:7`, 'src/app.ts:3:7'],
    ['an async frame', `Error\n    at async ${app}:4:2`, 'src/app.ts:4:2'],
    ['an ES module URL', `Error\n    at main (${pathToFileURL(app).href}:9:1)`, 'src/app.ts:9:1'],
    [
      'an ES module URL with escaped characters',
      `Error\n    at main (${pathToFileURL(join(cwd, 'src', 'my app.mjs')).href}:2:3)`,
      'src/my app.mjs:2:3',
    ],
    [
      'an ES module URL with a query',
      `Error\n    at main (${pathToFileURL(app).href}?v=2:12:34)`,
      'src/app.ts:12:34',
    ],
    ['an ES module URL without position', `Error\n    at ${pathToFileURL(app).href}`, 'src/app.ts'],
    [
      'a file outside the working directory',
      'Error\n    at f (/elsewhere/app.js:1:1)',
      '/elsewhere/app.js:1:1',
    ],
    ['the working directory itself', `Error\n    at f (${cwd})`, cwd],
    [
      'a URL Node cannot read as a path',
      'Error\n    at f (file://remote/app.mjs:1:1)',
      'file://remote/app.mjs:1:1',
    ],
  ])('%s', (_name, stack, expected) => {
    expect(siteFrom(stack)).toBe(expected)
  })

  it.each([
    ['no frame', 'Error'],
    ['no stack', undefined],
    ['a line that is no frame', 'Error\nnot a frame'],
  ])('says it does not know with %s', (_name, stack) => {
    expect(siteFrom(stack)).toBe('an unknown location')
  })
})
