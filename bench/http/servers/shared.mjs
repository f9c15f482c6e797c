// What every benchmark server shares: the route, its 20-field response, the test issuer and
// its tokens, and the protocol with the parent (an IPC channel: one `ready` message, then
// `stop`). A server never outlives the parent: when the channel closes, it exits.
import { parseArgs } from 'node:util'
import { createTestIssuer } from '@portcullis/testing'

export const ROUTE = '/t/:tenantId/videos/:id'
export const PATH = '/t/acme/videos/42'
export const ISSUER = 'https://issuer.bench.test'
export const AUDIENCE = 'videos-api'
export const SCOPES = ['videos:read', 'videos:list', 'tenants:read']
export const CALLERS = ['search-svc', 'player-svc', 'catalog-svc']

/** The 8 fields a client may see (response allowlist, response schema). */
export const ALLOWED_FIELDS = [
  'id',
  'tenantId',
  'title',
  'description',
  'durationSeconds',
  'createdAt',
  'thumbnailUrl',
  'views',
]

/** The handler's answer: a 20-field object, built per request like a real handler would. */
export function video(params) {
  return {
    id: params.id,
    tenantId: params.tenantId,
    title: 'A benchmark video',
    description: 'Twenty fields, eight of which a client may see.',
    durationSeconds: 1234,
    createdAt: '2024-05-01T10:00:00.000Z',
    updatedAt: '2024-05-02T11:30:00.000Z',
    ownerId: 'user-1',
    visibility: 'internal',
    status: 'ready',
    tags: ['bench', 'fastify', 'jwt'],
    thumbnailUrl: `https://cdn.example/t/${params.tenantId}/${params.id}.jpg`,
    streamUrl: `https://cdn.example/s/${params.tenantId}/${params.id}.m3u8`,
    views: 98765,
    likes: 4321,
    language: 'en',
    rating: 4.5,
    category: 'education',
    internalNotes: 'never shown to clients',
    storageBucket: 'videos-eu-west-1',
  }
}

/** The response schema of the peer stack: the same 8 fields. */
export const allowedSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    tenantId: { type: 'string' },
    title: { type: 'string' },
    description: { type: 'string' },
    durationSeconds: { type: 'integer' },
    createdAt: { type: 'string' },
    thumbnailUrl: { type: 'string' },
    views: { type: 'integer' },
  },
}

/** `--pool N` (distinct tokens to mint) and the server's own flags. */
export function serverArgs(options = {}) {
  const { values } = parseArgs({
    options: { pool: { type: 'string', default: '0' }, ...options },
    strict: true,
  })
  return { ...values, pool: Number(values.pool) }
}

/** The claims of every benchmark token: the guard's route lets them through. */
function tokenClaims(sub, extra = {}) {
  return {
    sub,
    scope: [...SCOPES, 'profile'],
    client_id: 'player-svc',
    tenant: 'acme',
    expiresIn: '2h',
    ...extra,
  }
}

/**
 * A token like a warm scenario's (same claims, same size), from an issuer no server trusts: what
 * the load generator sends a bare server that never reads it, so that bare and guarded servers
 * parse the same request bytes.
 */
export async function carriedToken() {
  const issuer = await createTestIssuer({ algorithm: 'ES256', issuer: ISSUER, audience: AUDIENCE })
  return issuer.token(tokenClaims('user-1'))
}

/**
 * An ES256 test issuer with its JWKS served on loopback by this process, the token sent on every
 * request of a warm scenario, and `pool` distinct tokens (one subject each) for cold ones.
 * `extra` claims go into every token (`cnf` for a DPoP-bound one).
 */
export async function issuerWithTokens(pool, extra = {}) {
  const issuer = await createTestIssuer({ algorithm: 'ES256', issuer: ISSUER, audience: AUDIENCE })
  const jwksUri = await issuer.listen()
  const claims = (sub) => tokenClaims(sub, extra)
  const warm = await issuer.token(claims('user-1'))
  const tokens = []
  // Minted in batches: jose signs asynchronously, so this is about 4x faster than one by one.
  for (let i = 0; i < pool; i += 500) {
    const batch = []
    for (let j = i; j < Math.min(pool, i + 500); j++) batch.push(issuer.token(claims(`user-${j}`)))
    tokens.push(...(await Promise.all(batch)))
  }
  return { issuer, jwksUri, warm, pool: tokens }
}

/**
 * Listens on 127.0.0.1 (a random port), tells the parent, and closes everything on `stop`, on
 * SIGTERM/SIGINT or when the parent goes away, exiting normally (so `--cpu-prof` is written).
 */
export async function serve(
  app,
  { tokens = null, features = {}, notes = [], close = [], extra = {} } = {},
) {
  await app.listen({ host: '127.0.0.1', port: 0 })
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    const timer = setTimeout(() => process.exit(1), 3000)
    timer.unref()
    await Promise.allSettled([app.close(), ...close.map((fn) => fn())])
    process.exit(0)
  }
  process.on('message', (message) => {
    if (message === 'stop') void stop()
  })
  process.on('disconnect', () => void stop())
  process.on('SIGTERM', () => void stop())
  process.on('SIGINT', () => void stop())
  const ready = {
    type: 'ready',
    port: app.server.address().port,
    warm: tokens?.warm ?? null,
    pool: tokens?.pool ?? [],
    features,
    notes,
    ...extra,
  }
  if (process.send === undefined) {
    console.log(JSON.stringify({ ...ready, pool: ready.pool.length }))
  } else {
    process.send(ready)
  }
}

/**
 * An Express app with the `listen`, `server` and `close` that `serve` uses on a Fastify instance,
 * so both frameworks are served (and stopped) the same way.
 */
export function expressServer(app) {
  let server
  return {
    listen: ({ host, port }) =>
      new Promise((resolve, reject) => {
        server = app.listen(port, host)
        server.once('listening', resolve)
        server.once('error', reject)
      }),
    get server() {
      return server
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

/** Runs a server's setup; a failure is reported to the parent and ends the process. */
export function main(setup) {
  setup().catch((err) => {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err)
    if (process.send === undefined) console.error(message)
    else process.send({ type: 'error', message }, () => process.exit(1))
    if (process.send === undefined) process.exit(1)
  })
}
