import swagger from '@fastify/swagger'
import portcullis, { type PortcullisOptions } from '@portcullis/fastify'
import { createTestIssuer } from '@portcullis/testing'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import {
  expectGuardsWritten,
  expectValidDocument,
  narrowedList,
  narrowedVideo,
  oauth2Scheme,
  openApiOptions,
  openApiRoutes,
  operations,
  problemContent,
} from '../cases/openapi.js'
import { trustedTokens } from '../helpers.js'

type Document = {
  paths: Record<string, Record<string, { security?: unknown; responses: Record<string, any> }>>
  components: { schemas: Record<string, unknown>; securitySchemes?: Record<string, unknown> }
}

let app: FastifyInstance | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

async function documented(
  options: {
    order?: 'swagger-first' | 'portcullis-first'
    schemes?: Record<string, unknown>
    portcullis?: Partial<PortcullisOptions>
    routes?: (a: FastifyInstance) => void
  } = {},
): Promise<Document> {
  const issuer = await createTestIssuer()
  app = Fastify()
  const registerSwagger = async (): Promise<void> => {
    await app!.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: { title: 'videos', version: '1.0.0' },
        ...(options.schemes === undefined
          ? {}
          : { components: { securitySchemes: options.schemes as never } }),
      },
    })
  }
  if (options.order === 'swagger-first') await registerSwagger()
  await app.register(portcullis, {
    tokens: trustedTokens(issuer),
    ...openApiOptions,
    ...options.portcullis,
  } as PortcullisOptions)
  if (options.order !== 'swagger-first') await registerSwagger()
  for (const route of openApiRoutes) {
    app.route({
      method: route.method,
      url: route.url,
      config: { guard: route.guard },
      handler: () => ({}),
    })
  }
  options.routes?.(app)
  await app.ready()
  return app.swagger() as unknown as Document
}

describe('OpenAPI from the guards (@fastify/swagger)', () => {
  it.each(['portcullis-first', 'swagger-first'] as const)(
    'writes security and problem responses into a valid document (%s)',
    async (order) => {
      const document = await documented({ order, schemes: { oauth2: oauth2Scheme } })
      await expectValidDocument(document)
      expectGuardsWritten(operations(document), 'oauth2')
      expect(document.components.schemas.PortcullisProblem).toMatchObject({
        required: ['type', 'title', 'status', 'code'],
      })
      // No bearer scheme is added beside the application's OAuth2 scheme.
      expect(Object.keys(document.components.securitySchemes ?? {})).toEqual(['oauth2'])
      // The mark that maps operations to routes never reaches the document.
      expect(JSON.stringify(document)).not.toContain('x-portcullis-route')
    },
  )

  it('uses an HTTP bearer scheme, without scopes, when the app declares no OAuth2 scheme', async () => {
    const document = await documented()
    await expectValidDocument(document)
    expect(document.components.securitySchemes).toEqual({
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    })
    const found = operations(document)
    expect(found.get('GET /v1/videos/{id}')!.security).toEqual([{ bearerAuth: [] }])
    expect(found.get('GET /v1/videos')!.security).toEqual([{ bearerAuth: [] }])
    expect(found.get('GET /healthz')!.security).toEqual([])
  })

  it('lists scopes under a bearer scheme when asked (OpenAPI 3.1 role names)', async () => {
    const document = await documented({ portcullis: { openapi: { scopes: true } } })
    expect(operations(document).get('GET /v1/videos/{id}')!.security).toEqual([
      { bearerAuth: ['videos:read'] },
    ])
  })

  it('keeps the responses the route declared, and replaces a hand-written security', async () => {
    const document = await documented({
      schemes: { oauth2: oauth2Scheme, apiKey: { type: 'apiKey', in: 'header', name: 'x-key' } },
      routes: (a) =>
        a.get(
          '/v1/declared',
          {
            config: { guard: { scopes: ['videos:read'], response: { allow: ['id'] } } },
            schema: {
              security: [{ apiKey: [] }],
              response: {
                200: { type: 'object', properties: { id: { type: 'string' } } },
                403: { description: 'Not yours', type: 'object', properties: {} },
              },
            },
          },
          () => ({ id: '1' }),
        ),
      portcullis: { openapi: { narrowResponses: true } },
    })
    await expectValidDocument(document)
    const declared = operations(document).get('GET /v1/declared')!
    expect(declared.security).toEqual([{ oauth2: ['videos:read'] }])
    expect(declared.responses['403'].description).toBe('Not yours')
    expect(declared.responses['401']).toMatchObject({ content: problemContent })
    // A declared response schema is never narrowed.
    expect(declared.responses['200'].content['application/json'].schema).toEqual({
      type: 'object',
      properties: { id: { type: 'string' } },
    })
  })

  it('narrows the 200 of routes without a response schema to their allowlist', async () => {
    const document = await documented({
      schemes: { oauth2: oauth2Scheme },
      portcullis: { openapi: { narrowResponses: true } },
    })
    await expectValidDocument(document)
    const found = operations(document)
    expect(
      found.get('GET /v1/videos')!.responses['200'].content['application/json'].schema,
    ).toEqual(narrowedList)
    expect(
      found.get('GET /v1/videos/{id}')!.responses['200'].content['application/json'].schema,
    ).toEqual(narrowedVideo)
  })

  it('changes nothing for requests: problem bodies are not serialized by a schema', async () => {
    await documented({ schemes: { oauth2: oauth2Scheme } })
    const res = await app!.inject({ method: 'GET', url: '/v1/videos/1' })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toEqual({
      type: expect.any(String) as unknown,
      title: 'Authentication required',
      status: 401,
      code: 'PCL_TOKEN_MISSING',
    })
  })

  it('leaves a static document (mode: static) as it is', async () => {
    const issuer = await createTestIssuer()
    app = Fastify()
    await app.register(portcullis, { tokens: trustedTokens(issuer) })
    const specification = {
      openapi: '3.0.3',
      info: { title: 'static', version: '1' },
      paths: { '/v1/x': { get: { responses: { 200: { description: 'ok' } } } } },
    }
    await app.register(swagger, {
      mode: 'static',
      specification: { document: structuredClone(specification) as never },
    })
    app.get(
      '/v1/x',
      { config: { guard: { authenticated: true, response: { allow: ['id'] } } } },
      () => ({}),
    )
    await app.ready()
    expect(app.swagger()).toEqual(specification)
  })

  it('openapi: false leaves the document as generated', async () => {
    const document = await documented({ portcullis: { openapi: false } })
    const read = operations(document).get('GET /v1/videos/{id}')!
    expect(read.security).toBeUndefined()
    expect(Object.keys(read.responses)).toEqual(['200'])
    expect(document.components.schemas).not.toHaveProperty('PortcullisProblem')
  })

  it('answers the YAML form with the written document', async () => {
    const document = await documented({ schemes: { oauth2: oauth2Scheme } })
    const text = (app!.swagger as (o: { yaml: true }) => string)({ yaml: true })
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(document)))
  })

  it('refuses a security scheme the document does not declare, and bad options', async () => {
    await expect(
      documented({ portcullis: { openapi: { securityScheme: 'missing' } } }),
    ).rejects.toMatchObject({ code: 'PCL_INVALID_OPTIONS', field: 'openapi.securityScheme' })
    const issuer = await createTestIssuer()
    const bad = Fastify()
    await expect(
      bad.register(portcullis, {
        tokens: trustedTokens(issuer),
        openapi: { narrow: true } as never,
      }),
    ).rejects.toMatchObject({ code: 'PCL_INVALID_OPTIONS' })
    await expect(
      bad.register(portcullis, {
        tokens: trustedTokens(issuer),
        openapi: { securityScheme: 'has space' },
      }),
    ).rejects.toMatchObject({ code: 'PCL_INVALID_OPTIONS' })
    await bad.close().catch(() => undefined)
  })
})
