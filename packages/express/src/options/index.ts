export type { PortcullisExpressOptions } from './options.js'
export { resolveOptions, type ResolvedOptions } from './resolve-options.js'
