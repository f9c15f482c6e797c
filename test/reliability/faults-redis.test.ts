import { setTimeout as sleep } from 'node:timers/promises'
import type { RateLimitOptions } from '@portcullis/rate-limit'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { RedisServer, runRedisTests } from '../rate-limit/redis-server.js'
import { load, shoot, tallyOf, wrongOf, type Aim, type Shot } from './load.js'
import { ADAPTERS, guardedTarget, type Target } from './targets.js'

// A real redis-server (test/rate-limit/redis-server.ts) stopped, paused and frozen while the
// full guard is under concurrent load, with rate limits shared through it. Expected behaviour
// (docs/reliability.md, docs/operations.md):
//
// - fail-closed (default): while Redis cannot count, 503 PCL_STORE_UNAVAILABLE problem+json,
//   never a 200, and at once or within storeTimeout (no request waits longer);
// - fail-open: served, each with an audit event, and one warning per outage;
// - a stalled Redis (paused or frozen) is not sent one command per request: at most one probe
//   per storeTimeout, so the client's queue and the backlog Redis runs when it wakes stay small;
// - when Redis is back, limits count again without restarting or recreating the app;
// - every 200 is about the token's subject, and the handler ran exactly once per 200.
//
// Every scenario runs against both adapters, which share the limiter runtime and its Redis gate
// (createRedisGate): the Fastify app answered in process (inject), the Express app listening on
// 127.0.0.1. Same options, same routes, same assertions.

/** storeTimeout of the stall tests (short, so that a stall sees many probe intervals). */
const STORE_TIMEOUT = 100
/** storeTimeout of the stop tests: the default. */
const DEFAULT_STORE_TIMEOUT = 250
const CONCURRENCY = 8

describe.runIf(runRedisTests)('Redis faults under load', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await RedisServer.start()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  const cleanup: (() => unknown)[] = []
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
    await redis.restart()
    await redis.send('FLUSHALL')
  })

  describe.each(ADAPTERS)('%s', (adapter) => {
    interface Loaded extends Target {
      aims: Aim[]
    }

    async function target(rateLimit: Partial<RateLimitOptions>): Promise<Loaded> {
      const response = { allow: ['id', 'subject'] }
      const t = await guardedTarget(
        adapter,
        [
          { path: '/v1/videos/:id', guard: { authenticated: true, response } },
          {
            path: '/limited/:id',
            guard: {
              authenticated: true,
              rateLimit: { max: 3, timeWindow: '1 minute' },
              response,
            },
          },
        ],
        {
          rateLimit: {
            max: 1_000_000,
            timeWindow: '1 minute',
            redis: redis.url,
            storeTimeout: DEFAULT_STORE_TIMEOUT,
            ...rateLimit,
          },
          response: {},
        },
      )
      cleanup.push(() => t.close())
      // 64 principals, each token verified once and then served from the token cache.
      const aims = await Promise.all(
        Array.from({ length: 64 }, async (_, i) => ({
          token: await t.issuer.token({ sub: `user-${i}`, expiresIn: 3600 }),
          subject: `user-${i}`,
          tag: 'load',
        })),
      )
      return { ...t, aims }
    }

    /** Shots sent and answered strictly inside [from, to], with a margin. */
    const within = (shots: Shot[], from: number, to: number) =>
      shots.filter((s) => s.start >= from + 20 && s.end <= to - 20)

    /**
     * Checks the recovery after `from`: a first 200 within `limit` ms, then the requests served
     * again. All of them on a quiet machine; a CI machine busy enough to miss a deadline may see a
     * few more 503s right after (never a 200 that should not be), hence 95%.
     */
    function expectRecovery(shots: Shot[], from: number, limit: number): void {
      const served = shots.filter((s) => s.start >= from && s.status === 200)
      const at = Math.min(...served.map((s) => s.start))
      expect(at - from).toBeLessThan(limit)
      const after = shots.filter((s) => s.start > at + 50)
      const tally = tallyOf(after)
      expect(after.length, String(tally)).toBeGreaterThan(50)
      expect(tally.count(200), String(tally)).toBeGreaterThanOrEqual(after.length * 0.95)
      expect(tally.count(200) + tally.count('PCL_STORE_UNAVAILABLE'), String(tally)).toBe(
        after.length,
      )
    }

    /** Warnings (lines holding `text`) logged before `until` (epoch ms). */
    const warningsBefore = (t: Target, text: string, until: number) =>
      t.logs.filter((l) => l.includes(text) && (JSON.parse(l) as { time: number }).time <= until)

    /** The per-principal limit counts again: a fresh principal gets exactly 3 then 429. */
    async function countsAgain(t: Loaded): Promise<void> {
      const token = await t.issuer.token({ sub: 'fresh-after-outage' })
      const codes: number[] = []
      for (let i = 0; i < 4; i++) {
        codes.push(
          (
            await shoot(t.endpoint, {
              token,
              subject: 'fresh-after-outage',
              tag: 'x',
              url: `/limited/${i}`,
            })
          ).status,
        )
      }
      expect(codes).toEqual([200, 200, 200, 429])
    }

    /** Lua calls Redis has run (the limiter's script), from INFO commandstats. */
    async function scriptCalls(): Promise<number> {
      const client = new Redis(redis.url)
      try {
        const info = await client.info('commandstats')
        let calls = 0
        for (const m of info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g))
          calls += Number(m[1])
        return calls
      } finally {
        client.disconnect()
      }
    }

    /**
     * Load on `t` for `total` ms while Redis is stopped after `before` ms and restarted `down` ms
     * later; `marks` are when it went down and came back (performance.now(), and wall time).
     */
    async function stoppedUnderLoad(
      t: Loaded,
      timing: { before: number; down: number; total: number },
    ): Promise<{ shots: Shot[]; marks: { down: number; restart: number; restartWall: number } }> {
      const marks = { down: 0, restart: 0, restartWall: 0 }
      const outage = (async () => {
        await sleep(timing.before)
        await redis.stop()
        marks.down = performance.now()
        await sleep(timing.down)
        marks.restart = performance.now()
        marks.restartWall = Date.now()
        await redis.restart()
      })()
      const shots = await load(t.endpoint, {
        ms: timing.total,
        concurrency: CONCURRENCY,
        aim: (i) => t.aims[i % t.aims.length]!,
      })
      await outage
      return { shots, marks }
    }

    it('fail-closed: stopped mid-load, 503 and never 200 while down; restarted, served again', async () => {
      const t = await target({})
      const { shots, marks } = await stoppedUnderLoad(t, { before: 600, down: 1000, total: 3200 })
      const tally = tallyOf(shots)
      expect(wrongOf(shots)).toEqual([])
      expect(tally.range(500, 502) + tally.range(504, 599), String(tally)).toBe(0)
      expect(t.runs()).toBe(tally.count(200))

      const down = within(shots, marks.down, marks.restart)
      const downTally = tallyOf(down)
      expect(down.length, String(downTally)).toBeGreaterThan(50)
      expect(downTally.count('PCL_STORE_UNAVAILABLE'), String(downTally)).toBe(down.length)
      // Refused without waiting for Redis: a client that is not connected is not sent commands
      // (the bound is far below the outage, with room for a busy CI machine).
      expect(Math.max(...down.map((s) => s.end - s.start))).toBeLessThan(
        DEFAULT_STORE_TIMEOUT + 250,
      )

      expectRecovery(shots, marks.restart, 2000)
      // One warning for the outage, not one per request.
      expect(warningsBefore(t, 'refusing requests with 503', marks.restartWall)).toHaveLength(1)
      await countsAgain(t)
    })

    it('fail-open: stopped mid-load, served with an audit event each and one warning; limits again after', async () => {
      const t = await target({ onStoreError: 'fail-open' })
      const { shots, marks } = await stoppedUnderLoad(t, { before: 400, down: 800, total: 2400 })
      const tally = tallyOf(shots)
      expect(wrongOf(shots)).toEqual([])
      expect(tally.count(200), String(tally)).toBe(shots.length)
      expect(t.runs()).toBe(shots.length)
      const down = within(shots, marks.down, marks.restart)
      expect(down.length).toBeGreaterThan(50)
      const unlimited = t.events.filter((e) => e.reason === 'PCL_STORE_UNAVAILABLE')
      expect(unlimited.length).toBeGreaterThanOrEqual(down.length)
      expect(unlimited.every((e) => e.decision === 'allow')).toBe(true)
      expect(warningsBefore(t, 'UNLIMITED', marks.restartWall)).toHaveLength(1)
      await sleep(500)
      await countsAgain(t)
    })

    /**
     * A stalled Redis: the connection stays up, commands get no answer. `stall` starts it and
     * resolves when it is over.
     */
    async function stalledUnderLoad(stall: () => Promise<void>) {
      // Our own client, set up as the plugin sets up its own, so its queue can be watched.
      const client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
      cleanup.push(() => client.disconnect())
      const t = await target({ redis: client, storeTimeout: STORE_TIMEOUT })
      const queue = () =>
        (client as unknown as { commandQueue: { length: number } }).commandQueue.length
      let maxQueue = 0
      const watch = setInterval(() => {
        maxQueue = Math.max(maxQueue, queue())
      }, 5)
      cleanup.push(() => clearInterval(watch))
      const callsBefore = await scriptCalls()
      const marks = { from: 0, to: 0 }
      const stalling = (async () => {
        await sleep(500)
        marks.from = performance.now()
        await stall()
        marks.to = performance.now()
      })()
      const shots = await load(t.endpoint, {
        ms: 3000,
        concurrency: CONCURRENCY,
        aim: (i) => t.aims[i % t.aims.length]!,
      })
      await stalling
      clearInterval(watch)
      await sleep(100)
      const tally = tallyOf(shots)
      expect(wrongOf(shots)).toEqual([])
      expect(tally.range(500, 502) + tally.range(504, 599), String(tally)).toBe(0)
      expect(t.runs()).toBe(tally.count(200))

      const during = within(shots, marks.from, marks.to)
      const duringTally = tallyOf(during)
      expect(during.length, String(duringTally)).toBeGreaterThan(40)
      expect(duringTally.count('PCL_STORE_UNAVAILABLE'), String(duringTally)).toBe(during.length)
      // No request waited for the stall to end: at most storeTimeout (the probes), plus room for
      // a busy CI machine, far below the 1.5 s stall.
      expect(Math.max(...during.map((s) => s.end - s.start))).toBeLessThan(STORE_TIMEOUT + 400)

      // No hammering: the commands sent for refused requests (run by Redis once it woke up, and
      // held in the client's queue meanwhile) are the ones in flight when it stalled plus one
      // probe per storeTimeout, not one per request (thousands). The slack covers the probe
      // windows the stall straddles and, on a loaded machine, a few requests whose command went
      // out as Redis caught up on its backlog but whose answer came after storeTimeout.
      const stalledMs = marks.to - marks.from
      const bound = CONCURRENCY + Math.ceil(stalledMs / STORE_TIMEOUT) + 5
      const refusedCommands = (await scriptCalls()) - callsBefore - tally.count(200)
      expect(
        refusedCommands,
        `${refusedCommands} commands for ${tally.count(503)} refusals`,
      ).toBeLessThanOrEqual(bound)
      expect(maxQueue).toBeLessThanOrEqual(bound)

      expectRecovery(shots, marks.to, STORE_TIMEOUT + 500)
      await countsAgain(t)
    }

    it('paused (CLIENT PAUSE) mid-load: 503 within storeTimeout, no command per request, served again after', async () => {
      await stalledUnderLoad(async () => {
        expect(await redis.send('CLIENT PAUSE 1500')).toBe('+OK')
        await sleep(1500)
      })
    })

    it('frozen (SIGSTOP, as DEBUG SLEEP) mid-load: 503 within storeTimeout, no command per request, served again after', async () => {
      // DEBUG SLEEP needs `enable-debug-command`, off by default since Redis 7: stopping the
      // process has the same effect (connections open, no answer) on any version.
      const info = await (async () => {
        const client = new Redis(redis.url)
        try {
          return await client.info('server')
        } finally {
          client.disconnect()
        }
      })()
      const pid = Number(/process_id:(\d+)/.exec(info)?.[1])
      expect(pid).toBeGreaterThan(0)
      cleanup.push(() => {
        try {
          process.kill(pid, 'SIGCONT')
        } catch {
          // already gone
        }
      })
      await stalledUnderLoad(async () => {
        process.kill(pid, 'SIGSTOP')
        await sleep(1500)
        process.kill(pid, 'SIGCONT')
      })
    })
  })
})
