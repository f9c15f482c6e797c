import type { FastifyInstance } from 'fastify'
import { expectProblem, Tally } from './support.js'

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

/**
 * Sends one request to a route that answers `{ id, subject }` and judges the answer: a 200 must
 * be about the token's subject, anything else must be a well-formed problem. Never throws.
 */
export async function shoot(app: FastifyInstance, aim: Aim): Promise<Shot> {
  const start = performance.now()
  const url = aim.url ?? `/v1/videos/${++sequence}`
  let status = 0
  let code: string | null = null
  let wrong: string | null = null
  try {
    const res = await app.inject({ url, headers: { authorization: `Bearer ${aim.token}` } })
    status = res.statusCode
    if (status === 200) {
      const body = res.json<{ subject?: unknown }>()
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
    wrong = `inject failed: ${String(err)}`
  }
  return { tag: aim.tag, status, code, start, end: performance.now(), wrong }
}

/**
 * Keeps `concurrency` requests in flight for `ms` milliseconds (or until `stop()` is true), each
 * aimed by `aim(i)`; resolves with every shot once all have completed.
 */
export async function load(
  app: FastifyInstance,
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
        const shot = await shoot(app, aim)
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
