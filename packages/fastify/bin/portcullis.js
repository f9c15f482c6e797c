#!/usr/bin/env node
// The `portcullis` command. A committed file rather than the build output, so that installing
// the workspace can link the command before anything is built; it runs the built CLI.
import { existsSync } from 'node:fs'

const cli = new URL('../dist/cli/cli.js', import.meta.url)
if (existsSync(cli)) {
  await import(cli.href)
} else {
  process.stderr.write(
    'portcullis: @portcullis/fastify is not built (dist/cli/cli.js is missing)\n',
  )
  process.exitCode = 2
}
