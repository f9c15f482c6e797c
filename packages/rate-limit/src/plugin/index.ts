import './augment.js'

export { rateLimitPlugin } from './rate-limit-plugin.js'
