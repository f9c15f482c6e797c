export {
  extractAccessToken,
  extractBearerToken,
  isToken68,
  readAuthorization,
  type AuthorizationCredentials,
} from './extract-bearer-token.js'
