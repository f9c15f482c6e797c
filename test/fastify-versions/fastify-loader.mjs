// Preloaded with `node --import` (the fastify-versions vitest config puts it in NODE_OPTIONS for
// the processes the tests spawn, such as the built `portcullis` bin): every `fastify` or
// `fastify/...` that such a process imports or requires resolves to the copy installed in
// $PORTCULLIS_FASTIFY_DIR instead of the workspace's. Without that variable it does nothing.
import Module, { register } from 'node:module'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const dir = process.env.PORTCULLIS_FASTIFY_DIR
if (dir !== undefined && dir !== '') {
  const manifest = join(resolve(dir), 'package.json')
  // import / import(): a resolve hook (runs off-thread, see fastify-loader-hooks.mjs).
  register(new URL('./fastify-loader-hooks.mjs', import.meta.url), {
    data: { parentURL: pathToFileURL(manifest).href },
  })
  // require(): Node 20's module.register hooks do not see CommonJS, so the resolver is wrapped
  // (Module._resolveFilename is internal, but every require() goes through it).
  const paths = [resolve(dir)]
  const original = Module._resolveFilename
  Module._resolveFilename = function (request, parent, isMain, options) {
    if (request === 'fastify' || (typeof request === 'string' && request.startsWith('fastify/'))) {
      return original.call(this, request, parent, isMain, { ...options, paths })
    }
    return original.call(this, request, parent, isMain, options)
  }
}
