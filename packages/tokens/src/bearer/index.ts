export { extractBearerToken, isToken68 } from './extract-bearer-token.js'
