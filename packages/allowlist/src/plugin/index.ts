import './augment.js'

export { allowlistPlugin } from './allowlist-plugin.js'
export { type AllowlistPluginOptions } from './options.js'
