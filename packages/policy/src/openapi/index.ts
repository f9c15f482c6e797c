export { openApiFragment, openApiPath, fragmentSettings, type OpenApiFragment } from './fragment.js'
export {
  BEARER_SCHEME,
  bearerScheme,
  guardedOperation,
  PROBLEM_SCHEMA,
  problemSchema,
  type GuardedOperation,
  type OperationSettings,
  type SecurityRequirements,
} from './operation.js'
export {
  openApiOptionsSchema,
  resolveOpenApiOptions,
  type OpenApiOptions,
} from './openapi-options.js'
export { allowlistSchema, type JsonSchema } from './response-schema.js'
export {
  applyGuards,
  documentSettings,
  type DocumentedRoute,
  type OpenApiDocument,
} from './merge.js'
