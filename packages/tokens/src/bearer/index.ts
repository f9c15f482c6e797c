export { extractBearerToken } from './extract-bearer-token.js'
