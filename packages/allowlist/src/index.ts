/**
 * `@portcullis/allowlist`: response field allowlists. `compileAllowlist` (framework-free)
 * compiles a route's `guard.response` once into a projection that keeps only declared fields.
 *
 * @packageDocumentation
 */
import './plugin/augment.js'

export {
  compileAllowlist,
  responseSpecSchema,
  type AllowlistSpec,
  type CompileAllowlistOptions,
  type CompiledAllowlist,
  type FieldPathText,
  type MaxItemsSpec,
  type ProjectionContext,
  type ProjectionResult,
  type ResponseSpec,
} from './allowlist/index.js'
export {
  allowlistPlugin,
  type AllowlistPluginOptions,
  type AllowlistTypes,
} from './plugin/index.js'
