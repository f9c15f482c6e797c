// The parent side of the HTTP benchmark: servers as child processes (never more than this
// process knows about, all stopped at the end, also on failure or Ctrl-C) and autocannon
// driving them from here, with latency recorded at microsecond resolution.
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { isAbsolute } from 'node:path'
import { get } from 'node:http'
import { cpuUsage } from 'node:process'
import { createHistogram } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const running = new Set()

function killAll() {
  for (const child of running) child.kill('SIGKILL')
}

// Last line of defence: whatever happens to this process, no server survives it (servers also
// exit on their own when the IPC channel to this process closes).
process.on('exit', killAll)

/**
 * Where servers run: on Linux with `taskset` and at least two cores, every server is pinned to the
 * last core and this process (the load generator) to the others, so that a server's CPU time per
 * request is what one core spends on it, not work spread over a shared pool. `BENCH_PIN=0` turns
 * it off. `null` when not pinned.
 */
export const pinned = (() => {
  const cores = cpus().length
  if (process.env.BENCH_PIN === '0' || process.platform !== 'linux' || cores < 2) return null
  try {
    execFileSync('taskset', ['-cp', `0-${cores - 2}`, String(process.pid)], { stdio: 'ignore' })
    return { server: cores - 1, client: cores === 2 ? '0' : `0-${cores - 2}` }
  } catch {
    return null
  }
})()

/**
 * Starts `servers/<file>` with `args` as a child process (`node servers/<file> ...args`) and
 * resolves once it listens on loopback, with its port, tokens and notes.
 */
export function startServer(name, { file, args = [], execArgv = [] }) {
  // An absolute path runs a server of another checkout (`BENCH_BEFORE`), with its own build.
  const path = isAbsolute(file)
    ? file
    : fileURLToPath(new URL(`./servers/${file}`, import.meta.url))
  const argv = [...execArgv, path, ...args.map(String)]
  const [command, commandArgs] =
    pinned === null
      ? [process.execPath, argv]
      : ['taskset', ['-c', String(pinned.server), process.execPath, ...argv]]
  const child = spawn(command, commandArgs, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  })
  running.add(child)
  child.once('exit', () => running.delete(child))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${name}: not ready after 60 s`)), 60_000)
    function fail(err) {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(err)
    }
    child.once('error', fail)
    child.once('exit', (code, signal) =>
      fail(new Error(`${name}: exited before it was ready (${signal ?? code})`)),
    )
    child.once('message', (message) => {
      clearTimeout(timer)
      child.removeAllListeners('exit')
      child.once('exit', () => running.delete(child))
      if (message?.type !== 'ready') {
        fail(new Error(`${name}: ${message?.message ?? JSON.stringify(message)}`))
        return
      }
      resolve({ name, child, ...message })
    })
  })
}

/** Stops every server still running: `stop` over IPC, SIGKILL after 5 s. */
export async function stopAll() {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve()
            return
          }
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
          child.once('exit', () => {
            clearTimeout(timer)
            resolve()
          })
          child.on('error', () => {}) // a channel closing under `send`: the timer still runs
          if (child.connected) child.send('stop')
          else child.kill('SIGTERM')
        }),
    ),
  )
}

/** CPU time (user + system, in ms) a Linux process has used so far; null elsewhere. */
function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
  } catch {
    return null
  }
}

/** CPU time (ms) all processes of a Linux machine have used so far; null elsewhere. */
function machineCpuMs() {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/)
    const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number)
    return ((user + nice + system + irq + softirq + steal) * 1000) / 100
  } catch {
    return null
  }
}

// Where each token pool's next run starts.
const cursors = new WeakMap()

/**
 * One autocannon run against a server: `token` on every request, or a new token of `pool` on
 * each one (cycled in order, across runs), or `dpop: { token, proofs }`: the DPoP-bound token with a new proof
 * on each request (a proof is good once: past the end of the list they repeat, and are refused).
 * Resolves with 2xx requests per second, p50/p99 latency in ms, the non-2xx and error counts, the
 * CPU used (in cores) by this process (the load generator), the server, and the rest of the
 * machine, and the server's CPU time per request in microseconds.
 */
export async function load({ server, path, token, pool, dpop, duration, connections, pipelining }) {
  const url = `http://127.0.0.1:${server.port}${path}`
  const options = { url, connections, pipelining, duration: duration / 1000 }
  if (dpop !== undefined) {
    let next = 0
    options.requests = [
      {
        setupRequest(request) {
          request.headers.authorization = `DPoP ${dpop.token}`
          request.headers.dpop = dpop.proofs[next % dpop.proofs.length]
          next++
          return request
        },
      },
    ]
  } else if (pool !== undefined) {
    // Each round goes on where the last one stopped: a round that started over at the pool's
    // first token would find the previous round's tokens in a verification cache smaller than
    // the pool, and measure cache hits as fresh tokens.
    let next = cursors.get(pool) ?? 0
    options.requests = [
      {
        setupRequest(request) {
          request.headers.authorization = `Bearer ${pool[next]}`
          next = (next + 1) % pool.length
          cursors.set(pool, next)
          return request
        },
      },
    ]
  } else if (token !== undefined) {
    options.headers = { authorization: `Bearer ${token}` }
  }
  const latency = createHistogram()
  let ok = 0
  const clientBefore = cpuUsage()
  const serverBefore = processCpuMs(server.child.pid)
  const machineBefore = machineCpuMs()
  const started = performance.now()
  const instance = autocannon(options)
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) {
      ok++
      latency.record(Math.max(1, Math.round(ms * 1000)))
    }
  })
  const result = await new Promise((resolve, reject) => {
    instance.once('done', resolve)
    instance.once('error', reject)
  })
  const wall = performance.now() - started
  const client = cpuUsage(clientBefore)
  const serverAfter = processCpuMs(server.child.pid)
  const machineAfter = machineCpuMs()
  const clientCpu = (client.user + client.system) / 1000 / wall
  const serverCpu =
    serverBefore === null || serverAfter === null ? null : (serverAfter - serverBefore) / wall
  const answered = ok + result.non2xx
  return {
    rps: ok / result.duration,
    answeredRps: answered / result.duration,
    cpuPerRequest:
      serverBefore === null || serverAfter === null || answered === 0
        ? null
        : ((serverAfter - serverBefore) * 1000) / answered,
    p50: ok === 0 ? null : latency.percentile(50) / 1000,
    p99: ok === 0 ? null : latency.percentile(99) / 1000,
    requests: ok,
    non2xx: result.non2xx,
    errors: result.errors,
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
    ),
    clientCpu,
    serverCpu,
    // Everything else the machine did meanwhile (other processes), in cores: a busy machine
    // shows here, and makes the figures of that run unreliable.
    otherCpu:
      serverCpu === null || machineBefore === null || machineAfter === null
        ? null
        : Math.max(0, (machineAfter - machineBefore) / wall - clientCpu - serverCpu),
  }
}

/**
 * One request on its own connection, for the sanity checks before measuring: the status. `token`
 * goes as a Bearer token, unless `headers` are given.
 */
export function probe(server, path, token, headers) {
  return new Promise((resolve, reject) => {
    headers ??= token === undefined ? {} : { authorization: `Bearer ${token}` }
    const request = get(
      { host: '127.0.0.1', port: server.port, path, headers, agent: false },
      (res) => {
        res.resume()
        res.once('end', () => resolve(res.statusCode))
      },
    )
    request.once('error', reject)
  })
}
