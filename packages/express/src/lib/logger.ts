import type { AuditLogger } from '@portcullis/core'

/**
 * Where the guard writes its own lines: a pino-style logger (`logger.warn({ ...fields }, 'message')`),
 * such as `pino()` or `pino-http`'s `logger`. `isLevelEnabled` lets the guard skip building events
 * nobody reads.
 */
export interface GuardLogger extends AuditLogger {
  isLevelEnabled?(level: string): boolean
}

/**
 * The default logger: warnings and errors on the console, `info` dropped (so allow decisions are
 * not logged unless `audit` or a logger asks for them).
 */
export const consoleLogger: GuardLogger = Object.freeze({
  isLevelEnabled: (level: string) => level === 'warn' || level === 'error' || level === 'fatal',
  info() {
    // Allow decisions and recoveries are not worth a console line by default.
  },
  warn(fields: object, message: string) {
    console.warn(message, fields)
  },
  error(fields: object, message: string) {
    console.error(message, fields)
  },
})

/** True when `log` writes `level`. */
export function logs(log: GuardLogger, level: 'info' | 'warn'): boolean {
  return log.isLevelEnabled === undefined || log.isLevelEnabled(level)
}
