// Module hooks registered by fastify-loader.mjs: resolves `fastify` and `fastify/...` as if they
// were imported from $PORTCULLIS_FASTIFY_DIR/package.json, so the copy installed there is loaded.

/** @type {string | undefined} */
let parentURL

/** @param {{ parentURL: string }} data */
export function initialize(data) {
  parentURL = data.parentURL
}

/**
 * @param {string} specifier
 * @param {{ parentURL?: string }} context
 * @param {(specifier: string, context: object) => Promise<unknown>} nextResolve
 */
export async function resolve(specifier, context, nextResolve) {
  if (parentURL !== undefined && (specifier === 'fastify' || specifier.startsWith('fastify/'))) {
    return nextResolve(specifier, { ...context, parentURL })
  }
  return nextResolve(specifier, context)
}
