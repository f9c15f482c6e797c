import { compareRegisters, registerDocument } from '@portcullis/policy'
import { afterEach, describe, expect, it } from 'vitest'
import { expectRegister, registerBody, registerOptions, registerRoutes } from '../cases/register.js'
import { guardedApp } from '../helpers.js'
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

  it('gives the same register document as the Fastify app, so one baseline gates both', async () => {
    current = await guardedExpress(
      (app, guard) => {
        for (const route of registerRoutes) {
          app.get(route.url, guard(route.guard), (_req, res) => res.json(registerBody))
        }
      },
      { portcullis: { ...registerOptions, response: { requireResponse: true } } },
    )
    const { app } = await guardedApp(
      (a) => {
        for (const route of registerRoutes) {
          a.get(route.url, { config: { guard: route.guard } }, () => registerBody)
        }
      },
      { portcullis: { ...registerOptions, response: { requireResponse: true } } },
    )
    await app.ready()
    const express = registerDocument(current.guard.routes())
    const fastify = registerDocument(app.portcullis.routes())
    await app.close()
    expect(Object.keys(express.routes)).toHaveLength(registerRoutes.length)
    expect(express).toEqual(fastify)
    expect(compareRegisters(fastify, express)).toEqual([])
    // A weakening on Express is caught against the same baseline.
    const weaker = { ...express, routes: { ...express.routes } }
    const key = 'GET /v1/videos/:id'
    weaker.routes[key] = {
      ...express.routes[key]!,
      access: { ...express.routes[key]!.access!, callers: null },
    }
    expect(compareRegisters(fastify, weaker)).toEqual([
      { route: key, change: 'caller restriction removed (any client may call)' },
    ])
  })
})
