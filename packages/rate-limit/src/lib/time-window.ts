// Windows are parsed by `durationIn` of @portcullis/core (the grammar of @lukeed/ms, which
// @fastify/rate-limit reads its string `timeWindow` with); this only shows them.

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const NAMED: readonly (readonly [ms: number, name: string])[] = [
  [DAY, 'day'],
  [HOUR, 'hour'],
  [MINUTE, 'minute'],
  [SECOND, 'second'],
]

/** A window for people: `1 minute`, `90 seconds`, `1500 ms`; exact, never rounded. */
export function formatWindow(ms: number): string {
  for (const [unit, name] of NAMED) {
    if (ms % unit === 0) {
      const count = ms / unit
      return `${count} ${name}${count === 1 ? '' : 's'}`
    }
  }
  return `${ms} ms`
}
