/** jose's time span syntax (jwtVerify `maxTokenAge`), positive spans only: `'90s'`, `'1 hour'`. */
export const TIME_SPAN =
  /^(\d+|\d+\.\d+) ?(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)$/i

const SECONDS: Readonly<Record<string, number>> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
  y: 31_557_600,
}

/** Seconds in a span as jose counts them (rounded), or `NaN` when it is not a span. */
export function spanSeconds(span: string | number): number {
  if (typeof span === 'number') return span
  const match = TIME_SPAN.exec(span)
  const unit = SECONDS[match?.[2]?.[0]?.toLowerCase() ?? '']
  if (match === null || unit === undefined) return Number.NaN
  return Math.round(parseFloat(match[1] ?? '') * unit)
}
