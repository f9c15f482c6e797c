#!/usr/bin/env node
import { AUDIT_USAGE, runAudit, type AuditIo } from './audit.js'
import { EXPLAIN_USAGE, runExplain } from './explain.js'

const USAGE = `Usage: portcullis <command>

Commands:
  audit    print an app's route inventory and exposure register; fail when a route is
           unguarded, pii leaves an open route, or the policy is weaker than its baseline
  explain  print what a route's guard decides for a token's claims, and why

${AUDIT_USAGE}
${EXPLAIN_USAGE}`

const io: AuditIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  cwd: process.cwd(),
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === 'audit') return runAudit(rest, io)
  if (command === 'explain') return runExplain(rest, io)
  if (command === '--help' || command === '-h') {
    io.stdout(USAGE)
    return 0
  }
  io.stderr(
    `${command === undefined ? 'portcullis: missing a command' : `portcullis: unknown command "${command}"`}\n\n${USAGE}`,
  )
  return 2
}

// Set the exit code rather than calling process.exit(): exiting at once can cut off output still
// buffered for a pipe (a `--json` report read by another tool).
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`portcullis: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 2
  },
)
