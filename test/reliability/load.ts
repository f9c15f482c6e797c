import type { FastifyInstance } from 'fastify'
import { expectProblem, Tally, type Answer } from './support.js'

/**
 * Where requests go: a Fastify app, answered in process (`app.inject`), or the base URL of a
 * server listening on loopback (`http://127.0.0.1:<port>`, any framework), over HTTP.
 */
export type Endpoint = FastifyInstance | string

/** One request of a load run, judged as it completed. */
export interface Shot {
  /** What the request was (e.g. the token's kind), to count by. */
  tag: string
  status: number
  /** The problem+json code of a refusal. */
  code: string | null
  /** `performance.now()` when it was sent and when it completed. */
  start: number
  end: number
  /** Why the response is wrong (a 200 about another subject, a malformed refusal), or null. */
  wrong: string | null
}

/** A request to send: the token, the subject a 200 must be about, a tag to count by. */
export interface Aim {
  token: string
  subject: string
  tag: string
  url?: string
}

let sequence = 0

/** One GET to `endpoint`, read whole. */
async function get(
  endpoint: Endpoint,
  url: string,
  headers: Record<string, string>,
): Promise<Answer> {
  if (typeof endpoint !== 'string') return endpoint.inject({ url, headers })
  const res = await fetch(`${endpoint}${url}`, { headers, redirect: 'manual' })
  const body = await res.text()
  return { statusCode: res.status, headers: Object.fromEntries(res.headers), body }
}

/**
 * Sends one request to a route that answers `{ id, subject }` and judges the answer: a 200 must
 * be about the token's subject, anything else must be a well-formed problem. Never throws.
 */
export async function shoot(endpoint: Endpoint, aim: Aim): Promise<Shot> {
  const start = performance.now()
  const url = aim.url ?? `/v1/videos/${++sequence}`
  let status = 0
  let code: string | null = null
  let wrong: string | null = null
  try {
    const res = await get(endpoint, url, { authorization: `Bearer ${aim.token}` })
    status = res.statusCode
    if (status === 200) {
      const body = JSON.parse(res.body) as { subject?: unknown }
      if (body.subject !== aim.subject) {
        wrong = `served ${JSON.stringify(body)} for ${aim.subject}`
      }
    } else {
      try {
        code = expectProblem(res)
      } catch (err) {
        wrong = `not a problem: ${String(err)}`
      }
    }
  } catch (err) {
    wrong = `request failed: ${String(err)}`
  }
  return { tag: aim.tag, status, code, start, end: performance.now(), wrong }
}

/**
 * Keeps `concurrency` requests in flight for `ms` milliseconds (or until `stop()` is true), each
 * aimed by `aim(i)`; resolves with every shot once all have completed.
 */
export async function load(
  endpoint: Endpoint,
  options: {
    ms: number
    concurrency: number
    aim: (i: number) => Aim | Promise<Aim>
    stop?: () => boolean
    onShot?: (shot: Shot) => void
  },
): Promise<Shot[]> {
  const until = performance.now() + options.ms
  const shots: Shot[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < until && options.stop?.() !== true) {
        const aim = await options.aim(next++)
        const shot = await shoot(endpoint, aim)
        shots.push(shot)
        options.onShot?.(shot)
        // Refusals can complete without ever leaving the microtask queue: give timers (the
        // fault schedule, deadlines) their turn, as a real server's I/O would.
        await new Promise((resolve) => setImmediate(resolve))
      }
    }),
  )
  return shots
}

/** Shots counted by status and code, optionally only those matching `filter`. */
export function tallyOf(
  shots: readonly Shot[],
  filter: (shot: Shot) => boolean = () => true,
): Tally {
  const tally = new Tally()
  for (const shot of shots) if (filter(shot)) tally.add(shot.status, shot.code)
  return tally
}

/** Descriptions of the wrong answers (at most five), for `expect(...).toEqual([])`. */
export function wrongOf(shots: readonly Shot[]): string[] {
  return shots
    .flatMap((s) => (s.wrong === null ? [] : [`${s.tag} ${s.status}: ${s.wrong}`]))
    .slice(0, 5)
}
