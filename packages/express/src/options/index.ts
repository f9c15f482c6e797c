export type { PortcullisExpressOptions } from './options.js'
