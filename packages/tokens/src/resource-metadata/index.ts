export {
  RESOURCE_METADATA_REASON,
  resolveResourceMetadata,
  resourceMetadataSchema,
  type ResolvedResourceMetadata,
  type ResourceMetadataDocument,
  type ResourceMetadataOptions,
  type ResourceMetadataRoutes,
} from './resource-metadata.js'
