export { protect } from './response-guard.js'
