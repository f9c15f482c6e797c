import { createGuard } from '@portcullis/express'
import { createTestIssuer } from '@portcullis/testing'
import { resourceMetadataSuite } from '../cases/resource-metadata.js'
import { trustedTokens } from '../helpers.js'
import { guardedExpress, thrown } from './helpers.js'

resourceMetadataSuite(
  'Express',
  async (port, options, routes) => {
    const { tokens, ...rest } = options as { tokens?: object }
    const issuer = await createTestIssuer()
    const guarded = await guardedExpress(
      (app, guard) => {
        for (const route of routes) {
          app.get(route.url, guard(route.guard), (_req, res) => void res.json({ id: 1 }))
        }
      },
      { issuer, portcullis: { ...rest, tokens: { ...trustedTokens(issuer), ...tokens } }, port },
    )
    return { issuer, base: guarded.base, close: () => guarded.close() }
  },
  async (options) => {
    const issuer = await createTestIssuer()
    return thrown(() => createGuard({ tokens: trustedTokens(issuer), ...options }))
  },
)
