import './augment.js'

export { tokensPlugin, type TokensPluginOptions } from './tokens-plugin.js'
