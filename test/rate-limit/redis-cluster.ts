import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { redisAvailable } from './redis-server.js'

/** True when `redis-cli` runs on this machine (it creates the cluster). */
const cliAvailable = spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0

/**
 * Whether the Redis Cluster tests run: skipped without `redis-server` and `redis-cli`, unless
 * `PORTCULLIS_REQUIRE_REDIS=1` (CI), where their absence fails the tests instead.
 */
export const runClusterTests =
  (redisAvailable && cliAvailable) || process.env.PORTCULLIS_REQUIRE_REDIS === '1'

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

// A cluster node also listens on its port + 10000 (the cluster bus): both must be free, and
// below 65536, which ephemeral ports (port 0) do not guarantee.
async function nodePort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000)
    if (taken.has(port) || taken.has(port + 10_000)) continue
    if ((await portFree(port)) && (await portFree(port + 10_000))) {
      taken.add(port)
      taken.add(port + 10_000)
      return port
    }
  }
  throw new Error('no free pair of loopback ports for a cluster node')
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.once('exit', (code) => resolve({ code, output }))
  })
}

/**
 * A throwaway Redis Cluster of three masters (no replicas) on loopback ports, without
 * persistence: `redis-server --cluster-enabled yes` three times, then
 * `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`.
 */
export class RedisCluster {
  private readonly processes: ChildProcess[] = []
  private readonly clients: Cluster[] = []

  private constructor(
    readonly ports: readonly number[],
    private readonly dir: string,
  ) {}

  /** Starts the three nodes, creates the cluster and waits until every slot is served. */
  static async start(): Promise<RedisCluster> {
    if (!redisAvailable || !cliAvailable) {
      throw new Error(
        'redis-server and redis-cli are not installed, and PORTCULLIS_REQUIRE_REDIS=1 requires the Redis Cluster tests to run',
      )
    }
    const taken = new Set<number>()
    const ports = [await nodePort(taken), await nodePort(taken), await nodePort(taken)]
    const cluster = new RedisCluster(ports, await mkdtemp(join(tmpdir(), 'portcullis-cluster-')))
    try {
      await cluster.boot()
    } catch (err) {
      await cluster.stop()
      throw err
    }
    return cluster
  }

  private async boot(): Promise<void> {
    for (const port of this.ports) {
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '5000',
          '--dir',
          this.dir,
          '--save',
          '',
          '--appendonly',
          'no',
        ],
        { stdio: 'ignore' },
      )
      this.processes.push(child)
    }
    for (const port of this.ports) await this.until(port, 'PING', (reply) => reply === 'PONG')
    const created = await run('redis-cli', [
      '--cluster',
      'create',
      ...this.ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ])
    if (created.code !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.output}`)
    for (const port of this.ports) {
      await this.until(port, 'CLUSTER INFO', (reply) => reply.includes('cluster_state:ok'))
    }
  }

  private async until(port: number, command: string, ok: (reply: string) => boolean) {
    for (let attempt = 0; attempt < 250; attempt++) {
      const { output } = await run('redis-cli', ['-p', String(port), ...command.split(' ')])
      if (ok(output.trim())) return
      await sleep(20)
    }
    throw new Error(`redis node on port ${port} did not answer ${command} as expected`)
  }

  /** The seed nodes, for `new Cluster(cluster.nodes)`. */
  get nodes(): { host: string; port: number }[] {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }))
  }

  /** A connected ioredis `Cluster` client, closed by {@link stop}. */
  async client(): Promise<Cluster> {
    const client = new Cluster(this.nodes, { lazyConnect: true })
    this.clients.push(client)
    await client.connect()
    return client
  }

  /** Empties every master. */
  async flush(): Promise<void> {
    for (const port of this.ports) await run('redis-cli', ['-p', String(port), 'FLUSHALL'])
  }

  /** Every key on every master. */
  async keys(): Promise<string[]> {
    return (await this.keysByMaster()).flat().sort()
  }

  /** How many keys each master holds. */
  async keysPerMaster(): Promise<number[]> {
    return (await this.keysByMaster()).map((keys) => keys.length)
  }

  private async keysByMaster(): Promise<string[][]> {
    const out: string[][] = []
    for (const port of this.ports) {
      const { output } = await run('redis-cli', ['-p', String(port), '--raw', 'KEYS', '*'])
      out.push(output.split('\n').filter((line) => line.length > 0))
    }
    return out
  }

  /** Closes the clients, kills the nodes and removes their files. */
  async stop(): Promise<void> {
    for (const client of this.clients.splice(0)) client.disconnect()
    await Promise.all(
      this.processes.splice(0).map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.once('exit', () => resolve())
            child.kill('SIGKILL')
          }),
      ),
    )
    await rm(this.dir, { recursive: true, force: true })
  }
}

/**
 * Starts a cluster before the suite and stops it after; returns a getter for it. Call inside a
 * `describe.runIf(runClusterTests)`.
 */
export function useRedisCluster(): () => RedisCluster {
  let cluster: RedisCluster | undefined
  beforeAll(async () => {
    cluster = await RedisCluster.start()
  }, 60_000)
  afterAll(async () => {
    await cluster?.stop()
  })
  return () => {
    if (cluster === undefined) throw new Error('the Redis Cluster did not start')
    return cluster
  }
}
