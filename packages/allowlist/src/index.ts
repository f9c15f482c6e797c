/**
 * `@portcullis/allowlist`: response field allowlists and their twin, request body allowlists.
 * `compileAllowlist` (framework-free) compiles a route's `guard.response` once into a projection
 * that keeps only declared fields; `compileBodyRule` compiles its `guard.body` into a check of
 * the fields a request may write.
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
  type OwnerCheck,
  type OwnerSpec,
  type ProjectionContext,
  type ProjectionResult,
  type ResponseSpec,
} from './allowlist/index.js'
export {
  bodySpecSchema,
  compileBodyRule,
  type BodyCheck,
  type BodyRule,
  type BodySpec,
  type CompileBodyRuleOptions,
  type CompiledBodyRule,
} from './body/index.js'
export {
  allowlistPlugin,
  type AllowlistPluginOptions,
  type AllowlistTypes,
} from './plugin/index.js'
