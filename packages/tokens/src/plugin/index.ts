import './augment.js'

export { deny, emitAudit, reportDenial, routeOf, type DecisionContext } from './fastify-support.js'
export { kGuardStart } from './symbols.js'
export { tokensPlugin, type PreAuthLimiter, type TokensPluginOptions } from './tokens-plugin.js'
