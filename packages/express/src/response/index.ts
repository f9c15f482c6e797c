export { createResponseGuard, protect, type InstallResponseGuard } from './response-guard.js'
