export { QUERY_TOKEN_PARAMETER, queryTokenValues } from './query-token.js'
