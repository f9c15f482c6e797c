export {
  createAuthenticator,
  type AuthRequest,
  type Authenticator,
  type Credentials,
} from './authenticator.js'
