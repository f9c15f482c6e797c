export {
  createResponseGuard,
  protect,
  type InstallResponseGuard,
  type ResponsePolicy,
} from './response-guard.js'
