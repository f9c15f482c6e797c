export {
  QUERY_TOKEN_PARAMETER,
  queryTokenValues,
  REDACTED,
  redactQueryTokens,
} from './query-token.js'
