export {
  extractAccessToken,
  extractBearerToken,
  isToken68,
  type AuthorizationCredentials,
} from './extract-bearer-token.js'
