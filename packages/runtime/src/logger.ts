import type { GuardLogger } from '@portcullis/core'

export type { GuardLogger } from '@portcullis/core'

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
