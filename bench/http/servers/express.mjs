// Scenario 5a: bare Express 5, the route and its 20-field answer, nothing else: the baseline of
// the Express adapter, as bare Fastify is the Fastify guard's.
import express from 'express'
import { expressServer, main, ROUTE, serve, video } from './shared.mjs'

main(async () => {
  const app = express()
  app.get(ROUTE, (req, res) => {
    res.json(video(req.params))
  })
  await serve(expressServer(app))
})
