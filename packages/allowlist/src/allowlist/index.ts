export {
  compileAllowlist,
  type CompileAllowlistOptions,
  type CompiledAllowlist,
  type ProjectionContext,
  type ProjectionResult,
} from './compile-allowlist.js'
export { type OwnerCheck, type OwnerSpec } from './owner-spec.js'
export {
  responseSpecSchema,
  type AllowlistSpec,
  type FieldPathText,
  type MaxItemsSpec,
  type ResponseSpec,
} from './response-spec.js'
export {
  isJsonType,
  readSerializedBody,
  uninspectableError,
  type SerializedBody,
} from './serialized-body.js'
