import { isAbsolute, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Where `fn` was called from, as `src/app.ts:12:5` (relative to the working directory): how a
 * guard is named in errors raised before `seal` knows its route.
 */
export function callSite(fn: (...args: never[]) => unknown): string {
  const holder: { stack?: string } = {}
  Error.captureStackTrace(holder, fn)
  const frame = holder.stack?.split('\n')[1]?.trim() ?? ''
  // `at name (location)` or `at location`, location being `file:line:column`.
  const location = /\(([^()]+)\)$/u.exec(frame)?.[1] ?? /^at (?:async )?(.+)$/u.exec(frame)?.[1]
  if (location === undefined) return 'an unknown location'
  const file = location.startsWith('file://') ? safePath(location) : location
  // Not a path (`node:internal/...`, a URL Node cannot read): as printed.
  if (!isAbsolute(file)) return file
  const shown = relative(process.cwd(), file)
  return shown.startsWith('..') || shown === '' ? file : shown
}

function safePath(location: string): string {
  const position = /:\d+:\d+$/u.exec(location)?.[0] ?? ''
  try {
    return fileURLToPath(location.slice(0, location.length - position.length)) + position
  } catch {
    return location
  }
}
