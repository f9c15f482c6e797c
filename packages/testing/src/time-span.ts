const UNITS = 'seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y'
/** jose's time span syntax: sign, amount, unit, and an optional `ago` / `from now`. */
const SPAN = new RegExp(`^(\\+|-)? ?(\\d+|\\d*\\.\\d+) ?(${UNITS})(?: (ago|from now))?$`, 'i')

const MINUTE = 60
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const WEEK = 7 * DAY
const YEAR = 365.25 * DAY

function unitSeconds(unit: string): number {
  const u = unit.toLowerCase()
  if (u === 's' || u.startsWith('sec')) return 1
  if (u === 'm' || u.startsWith('min')) return MINUTE
  if (u === 'h' || u.startsWith('h')) return HOUR
  if (u === 'd' || u.startsWith('day')) return DAY
  if (u === 'w' || u.startsWith('week')) return WEEK
  return YEAR
}

/**
 * Converts a lifetime (seconds, or a jose time span such as `'5m'`, `'2 hours'`, `'1h ago'`) to
 * whole seconds, as jose's `setExpirationTime` does.
 */
export function toSeconds(span: number | string): number {
  if (typeof span === 'number') {
    if (!Number.isFinite(span)) throw new TypeError(`Invalid time span: ${String(span)}`)
    return Math.round(span)
  }
  const match = SPAN.exec(span)
  if (!match || (match[1] === '-' && match[4] !== undefined)) {
    throw new TypeError(`Invalid time span: ${JSON.stringify(span)}`)
  }
  const [, sign, amount = '0', unit = 's', direction] = match
  const seconds = Math.round(Number.parseFloat(amount) * unitSeconds(unit))
  return sign === '-' || direction?.toLowerCase() === 'ago' ? -seconds : seconds
}

/** The current time in whole seconds since the epoch (honours fake timers). */
export function epochSeconds(): number {
  return Math.floor(Date.now() / 1000)
}
