import { describe, expect, it } from 'vitest'
import {
  expectRegister,
  registerBody,
  registerOf,
  registerOptions,
  registerRoutes,
} from '../cases/register.js'
import { guardedApp } from '../helpers.js'

async function registerApp(routes = registerRoutes) {
  const { app } = await guardedApp(
    (a) => {
      for (const route of routes) {
        a.route({
          method: route.method,
          url: route.url,
          config: { guard: route.guard },
          handler: () => registerBody,
        })
      }
    },
    { portcullis: { ...registerOptions, response: { requireResponse: true } } },
  )
  await app.ready()
  return app
}

describe('the exposure register (Fastify)', () => {
  it('holds who may call each route and which classed fields can leave it', async () => {
    const app = await registerApp()
    expectRegister(app.portcullis.routes())
    await app.close()
  })

  it('is the same whatever order the routes are declared in', async () => {
    const a = await registerApp()
    const b = await registerApp([...registerRoutes].reverse())
    expect(registerOf(b.portcullis.routes())).toEqual(registerOf(a.portcullis.routes()))
    await Promise.all([a.close(), b.close()])
  })

  it('refuses a classify option that is not field paths to class names', async () => {
    const bad = guardedApp(() => undefined, {
      portcullis: { classify: { 'owner..email': 'pii' } },
    })
    await expect(bad.then((g) => g.app.ready())).rejects.toMatchObject({
      code: 'PCL_INVALID_OPTIONS',
      message: expect.stringContaining('classify'),
    })
    const badClass = guardedApp(() => undefined, { portcullis: { classify: { email: 'p i i' } } })
    await expect(badClass.then((g) => g.app.ready())).rejects.toMatchObject({
      code: 'PCL_INVALID_OPTIONS',
    })
  })

  it('refuses a bad guard.response.classify, naming the route', async () => {
    const { app } = await guardedApp((a) => {
      a.get(
        '/x',
        {
          config: {
            guard: { authenticated: true, response: { allow: ['a'], classify: { a: '' } } },
          },
        },
        () => ({}),
      )
    })
    await expect(app.ready()).rejects.toMatchObject({
      message: expect.stringMatching(/GET \/x.*guard\.response\.classify/su),
    })
  })
})
