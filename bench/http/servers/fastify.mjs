// Scenario 1: bare Fastify, the route and its 20-field answer, nothing else.
import Fastify from 'fastify'
import { main, ROUTE, serve, video } from './shared.mjs'

main(async () => {
  const app = Fastify()
  app.get(ROUTE, (request) => video(request.params))
  await serve(app)
})
