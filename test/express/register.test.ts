import { afterEach, describe, it } from 'vitest'
import { expectRegister, registerBody, registerOptions, registerRoutes } from '../cases/register.js'
import { guardedExpress, type GuardedExpress } from './helpers.js'

let current: GuardedExpress | undefined
afterEach(async () => {
  await current?.close()
  current = undefined
})

describe('the exposure register (Express)', () => {
  it('holds the same data as the Fastify inventory', async () => {
    current = await guardedExpress(
      (app, guard) => {
        for (const route of registerRoutes) {
          const handler = guard(route.guard)
          if (route.method === 'GET')
            app.get(route.url, handler, (_req, res) => res.json(registerBody))
          else app.post(route.url, handler, (_req, res) => res.json(registerBody))
        }
      },
      { portcullis: { ...registerOptions, response: { requireResponse: true } } },
    )
    expectRegister(current.guard.routes())
  })
})
