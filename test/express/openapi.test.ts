import swagger from '@fastify/swagger'
import portcullis, { type PortcullisOptions } from '@portcullis/fastify'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import {
  expectGuardsWritten,
  expectValidDocument,
  narrowedList,
  oauth2Scheme,
  openApiOptions,
  openApiRoutes,
  operations,
} from '../cases/openapi.js'
import { trustedTokens } from '../helpers.js'
import { guardedExpress, type GuardedExpress } from './helpers.js'

let current: GuardedExpress | undefined
afterEach(async () => {
  await current?.close()
  current = undefined
})

async function expressGuard(): Promise<GuardedExpress> {
  current = await guardedExpress(
    (app, guard) => {
      for (const route of openApiRoutes) {
        const handler = guard(route.guard)
        if (route.method === 'GET') app.get(route.url, handler, (_req, res) => void res.json({}))
        else app.post(route.url, handler, (_req, res) => void res.json({}))
      }
    },
    { portcullis: { ...openApiOptions, response: { requireResponse: true } } },
  )
  return current
}

describe('OpenAPI from the guards (Express: guard.openapi())', () => {
  it('gives the security map and problem responses of every route', async () => {
    const { guard } = await expressGuard()
    const fragment = guard.openapi({ securityScheme: 'oauth2' })
    expectGuardsWritten(operations(fragment), 'oauth2')
    expect(fragment.components.schemas).toHaveProperty('PortcullisProblem')
    // A named scheme is the application's to declare.
    expect(fragment.components.securitySchemes).toEqual({})
    // Merged into a generator's document (here: operations with only a 200), it is valid.
    const paths = Object.fromEntries(
      Object.entries(fragment.paths).map(([path, item]) => [
        path,
        Object.fromEntries(
          Object.entries(item).map(([method, operation]) => [
            method,
            {
              ...operation,
              responses: { 200: { description: 'OK' }, ...operation.responses },
              ...(path.includes('{id}')
                ? {
                    parameters: [
                      { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
                    ],
                  }
                : {}),
            },
          ]),
        ),
      ]),
    )
    await expectValidDocument({
      openapi: '3.0.3',
      info: { title: 'videos', version: '1.0.0' },
      paths,
      components: { ...fragment.components, securitySchemes: { oauth2: oauth2Scheme } },
    })
  })

  it('defaults to the bearer scheme it declares, and narrows responses when asked', async () => {
    const { guard } = await expressGuard()
    const fragment = guard.openapi({ narrowResponses: true })
    expect(fragment.components.securitySchemes).toEqual({
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    })
    const list = operations(fragment).get('GET /v1/videos')!
    expect(list.security).toEqual([{ bearerAuth: [] }])
    expect(list.responses['200']).toMatchObject({
      content: { 'application/json': { schema: narrowedList } },
    })
    expect(() => guard.openapi({ securityScheme: 'a b' })).toThrow(
      expect.objectContaining({ code: 'PCL_INVALID_OPTIONS' }) as Error,
    )
  })

  it('equals what @portcullis/fastify writes into @fastify/swagger for the same routes', async () => {
    const { guard, issuer } = await expressGuard()
    const fastify = Fastify()
    await fastify.register(portcullis, {
      tokens: trustedTokens(issuer),
      ...openApiOptions,
      openapi: { narrowResponses: true },
    } as PortcullisOptions)
    await fastify.register(swagger, {
      openapi: {
        info: { title: 'videos', version: '1.0.0' },
        components: { securitySchemes: { oauth2: oauth2Scheme } },
      },
    })
    for (const route of openApiRoutes) {
      fastify.route({
        method: route.method,
        url: route.url,
        config: { guard: route.guard },
        handler: () => ({}),
      })
    }
    await fastify.ready()
    const document = fastify.swagger() as never
    await fastify.close()
    const fragment = guard.openapi({ securityScheme: 'oauth2', narrowResponses: true })
    const written = operations(document)
    const expected = operations(fragment)
    expect([...expected.keys()].sort()).toEqual([...written.keys()].sort())
    for (const [key, operation] of expected) {
      const generated = written.get(key)!
      expect(generated.security, key).toEqual(operation.security)
      for (const [status, response] of Object.entries(operation.responses)) {
        expect(generated.responses[status], `${key} ${status}`).toEqual(response)
      }
    }
  })
})
