export type { AllowlistTypes } from './augment.js'

export { allowlistPlugin } from './allowlist-plugin.js'
export {
  allowlistOptionsSchema,
  resolveAllowlistOptions,
  type AllowlistPluginOptions,
  type ResolvedAllowlistOptions,
} from './options.js'
