import { connect } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { expect } from 'vitest'

let collect: (() => void) | undefined

/**
 * A full garbage collection. With `--expose-gc` (the soak's own config) it is `globalThis.gc`;
 * otherwise, on first use, the flag is set at run time and the function taken from a fresh
 * context, which works in vitest's forked workers as well.
 */
export function gc(): void {
  if (collect === undefined) {
    const exposed = (globalThis as { gc?: unknown }).gc
    if (typeof exposed === 'function') {
      collect = exposed as () => void
    } else {
      setFlagsFromString('--expose-gc')
      collect = runInNewContext('gc') as () => void
    }
  }
  collect()
}

/** `heapUsed` after full collections, in bytes: what is still reachable. */
export function settledHeap(): number {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

export const MiB = 1024 * 1024

/** The `p`-th percentile (0 to 100) of `values`, nearest rank; `values` is sorted in place. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0
  values.sort((a, b) => a - b)
  const rank = Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))
  return values[rank]!
}

/** Responses counted by status and by problem+json code, for assertions and failure messages. */
export class Tally {
  readonly byStatus = new Map<number, number>()
  readonly byCode = new Map<string, number>()

  add(status: number, code: string | null = null): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1)
    if (code !== null) this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1)
  }

  /** Responses with this status (or, with a string, this problem code). */
  count(what: number | string): number {
    return (typeof what === 'number' ? this.byStatus.get(what) : this.byCode.get(what)) ?? 0
  }

  get total(): number {
    let sum = 0
    for (const n of this.byStatus.values()) sum += n
    return sum
  }

  /** Responses whose status is in [from, to]. */
  range(from: number, to: number): number {
    let sum = 0
    for (const [status, n] of this.byStatus) if (status >= from && status <= to) sum += n
    return sum
  }

  toJSON(): { status: Record<string, number>; code: Record<string, number> } {
    return {
      status: Object.fromEntries([...this.byStatus].sort(([a], [b]) => a - b)),
      code: Object.fromEntries([...this.byCode].sort()),
    }
  }

  toString(): string {
    return JSON.stringify(this.toJSON())
  }
}

/** The parts of a response the invariants look at (light-my-request and the raw client). */
export interface Answer {
  statusCode: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
}

/** The problem+json code of a response, or `null` when it is not a Portcullis problem. */
export function problemCode(res: Answer): string | null {
  const type = res.headers['content-type']
  if (typeof type !== 'string' || !type.startsWith('application/problem+json')) return null
  try {
    const code = (JSON.parse(res.body) as { code?: unknown }).code
    return typeof code === 'string' ? code : null
  } catch {
    return null
  }
}

/**
 * Asserts a Portcullis refusal: problem+json with `type`, `title`, `status` equal to the HTTP
 * status, a stable `PCL_*` code, nothing else but `detail`, and a challenge on a 401.
 * Returns the code.
 */
export function expectProblem(res: Answer, context = ''): string {
  const where = `${context} ${res.statusCode} ${res.body.slice(0, 300)}`
  expect(res.headers['content-type'], where).toBe('application/problem+json')
  const body = JSON.parse(res.body) as Record<string, unknown>
  expect(
    Object.keys(body).every((k) => ['type', 'title', 'status', 'code', 'detail'].includes(k)),
  ).toBe(true)
  expect(body.status, where).toBe(res.statusCode)
  expect(body.code, where).toMatch(/^PCL_[A-Z_]+$/)
  expect(body.type, where).toMatch(/^https:\/\/.+#pcl_[a-z_]+$/)
  expect(typeof body.title, where).toBe('string')
  if (res.statusCode === 401) {
    // RFC 6750 §3 (and RFC 9449 §7.1 for a DPoP credential): a challenge on every 401.
    expect(String(res.headers['www-authenticate']), where).toMatch(/^(Bearer|DPoP)( |$)/)
  }
  return body.code as string
}

/** The whole of a response as text: status, headers and body, to search for leaks. */
export function responseText(res: Answer): string {
  return `${res.statusCode}\n${JSON.stringify(res.headers)}\n${res.body}`
}

/**
 * Fails when any secret (a raw token, a signature) appears in any of the texts. Secrets shorter
 * than 16 characters are skipped: they could occur by chance.
 */
export function expectNoLeak(
  texts: Iterable<string>,
  secrets: Iterable<string>,
  context = '',
): void {
  const checked = [...secrets].filter((s) => s.length >= 16)
  if (checked.length === 0) return
  for (const text of texts) {
    for (const secret of checked) {
      if (text.includes(secret)) {
        throw new Error(
          `${context}: a secret (${secret.slice(0, 12)}..., ${secret.length} chars) leaked into: ${text.slice(0, 400)}`,
        )
      }
    }
  }
}

/**
 * One HTTP/1.1 exchange over a raw loopback socket: `head` (which must ask for
 * `Connection: close`) is sent byte for byte (latin1), so the request target reaches the server's
 * parser exactly as written (no URL normalization, as `fetch`, `http.request` and `app.inject`
 * would do). Resolves when the server closes.
 */
export function rawExchange(port: number, head: string, timeoutMs = 5000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const chunks: Buffer[] = []
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('no answer')))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.once('error', (err: NodeJS.ErrnoException) => {
      // The server may reset the connection right after answering a request it refused.
      if (err.code === 'ECONNRESET' && chunks.length > 0) return
      reject(err)
    })
    socket.once('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks)))
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)))
      }
    })
    // Not `end()`: Node's HTTP server aborts a request whose client half-closed before the
    // answer was ready. `Connection: close` in `head` makes the server close after answering.
    socket.write(Buffer.from(head, 'latin1'))
  })
}

function parseResponse(raw: Buffer): Answer {
  const text = raw.toString('latin1')
  const end = text.indexOf('\r\n\r\n')
  if (end === -1) throw new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`)
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n')
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)
  if (match === null) throw new Error(`bad status line: ${statusLine}`)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'))
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body)
  return { statusCode: Number(match[1]), headers, body: body.toString('utf8') }
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at)
    if (lineEnd === -1) break
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16)
    if (!Number.isFinite(size) || size === 0) break
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

/** A deterministic PRNG (mulberry32), so load runs are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Runs `shoot(i)` with `concurrency` requests in flight until `more(i)` is false; resolves once
 * every request has settled. Shots must not throw (count failures instead).
 */
export async function drive(
  concurrency: number,
  more: (i: number) => boolean,
  shoot: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more(next)) {
        const i = next++
        await shoot(i)
      }
    }),
  )
  return next
}
