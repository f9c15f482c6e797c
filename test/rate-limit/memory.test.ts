import { afterEach, expect, it } from 'vitest'
import { limitedApp, statuses, type LimitedApp } from './helpers.js'

let t: LimitedApp | undefined
afterEach(async () => {
  await t?.app.close()
  t = undefined
})

// The store itself is driven with 200k keys in packages/rate-limit/src/store; this shows the app
// uses that bounded store: one LRU of `cache` keys for all routes, oldest evicted first.
it('the in-memory store holds at most `cache` keys across routes', async () => {
  t = await limitedApp(
    (app) => {
      app.get('/a', { config: { guard: { public: 'probe' } } }, () => 'ok')
      app.get('/b', { config: { guard: { public: 'probe' } } }, () => 'ok')
    },
    { rateLimit: { cache: 50 } },
  )
  const first = '192.0.2.1'
  expect(await statuses(4, () => t!.call('/a', null, { ip: first }))).toEqual([200, 200, 200, 429])
  // 49 more keys fit beside it, on another route: the first key is still counted.
  for (let i = 0; i < 49; i++) await t.call('/b', null, { ip: `198.51.100.${i}` })
  expect((await t.call('/a', null, { ip: first })).statusCode).toBe(429)
  // One key more than the store holds: the least recently used one (ours) is evicted.
  for (let i = 0; i < 50; i++) await t.call('/b', null, { ip: `203.0.113.${i}` })
  expect((await t.call('/a', null, { ip: first })).statusCode).toBe(200)
})
