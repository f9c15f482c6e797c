// Response allowlisting: projecting a 50-field row with nested arrays down to 10 declared
// fields, beside JSON.stringify of the projected result (the serialization that follows it on
// every response). Issue #6 target: the projection costs at most half of that stringify.
import { compileAllowlist } from '@portcullis/allowlist'
import { Bench } from 'tinybench'

// A database-row-shaped response: 50 top-level fields, a nested owner, stats, tags, and an
// array of 10 item objects. Fresh strings per row, as a driver would return them.
function row(n) {
  const body = {
    id: `vid-${n}`,
    title: `Video number ${n}`,
    durationSec: 300 + n,
    publishedAt: '2024-05-01T12:00:00.000Z',
    owner: {
      id: `user-${n}`,
      name: 'Ada',
      email: 'ada@example.test',
      uploadIp: '10.0.0.1',
      createdAt: '2020-01-01',
      internalNotes: 'vip',
    },
    stats: { views: 1000 + n, likes: 10, shares: 2, watchTimeSec: 99_000, reports: 0 },
    tags: ['music', 'live', 'concert', 'jazz', 'hd', 'stereo', 'featured', 'editor-pick'],
    items: Array.from({ length: 10 }, (_, i) => ({
      id: `item-${i}`,
      title: `Chapter ${i}`,
      startSec: i * 30,
      thumbnail: `https://cdn.test/${n}/${i}.jpg`,
      internalId: 77_000 + i,
      storagePath: `/mnt/videos/${n}/${i}`,
      codec: 'h264',
      bitrate: 4_000_000,
    })),
  }
  for (let i = 0; body && Object.keys(body).length < 50; i++) {
    body[`column${i}`] = i % 3 === 0 ? i : i % 3 === 1 ? `value ${i} for ${n}` : i % 2 === 0
  }
  return body
}

const ALLOW = [
  'id',
  'title',
  'durationSec',
  'publishedAt',
  'owner.id',
  'owner.name',
  'stats.views',
  'tags[]',
  'items[].id',
  'items[].title',
]

export async function allowlistBench({ time }) {
  const rows = Array.from({ length: 64 }, (_, n) => row(n))
  if (Object.keys(rows[0]).length !== 50)
    throw new Error('benchmark setup: rows must have 50 fields')
  const strip = compileAllowlist({ allow: ALLOW, maxItems: 100 }, { route: 'GET /v1/videos/:id' })
  const reject = compileAllowlist({ allow: ALLOW, mode: 'reject' }, { route: 'GET /v1/videos/:id' })
  const context = { status: 200, scopes: new Set(['videos:read']) }
  const audited = { ...context, collectRemoved: true }
  const projected = rows.map((body) => {
    const result = strip.project(body, context)
    if (!result.ok) throw new Error(`benchmark setup: ${result.error.message}`)
    return result.value
  })
  const cleanRows = projected.map((value) => structuredClone(value))
  if (!reject.project(cleanRows[0], context).ok) {
    throw new Error('benchmark setup: the projected row should pass reject mode')
  }

  let i = 0
  let sink = 0
  const bench = new Bench({ name: 'response allowlist', time })
  bench
    .add('JSON.stringify of the projected result (baseline)', () => {
      sink += JSON.stringify(projected[i++ & 63]).length
    })
    .add('portcullis project (strip, 50 fields -> 10)', () => {
      if (strip.project(rows[i++ & 63], context).ok) sink++
    })
    .add('portcullis project + JSON.stringify', () => {
      const result = strip.project(rows[i++ & 63], context)
      if (result.ok) sink += JSON.stringify(result.value).length
    })
    .add('JSON.stringify of the whole row (no allowlist)', () => {
      sink += JSON.stringify(rows[i++ & 63]).length
    })
    .add('portcullis project (strip, collectRemoved)', () => {
      if (strip.project(rows[i++ & 63], audited).removed.length > 0) sink++
    })
    .add('portcullis project (reject, clean body)', () => {
      if (reject.project(cleanRows[i++ & 63], context).ok) sink++
    })
  await bench.run()
  if (sink === 0) throw new Error('unreachable')
  const mean = (name) => bench.getTask(name).result.latency.mean
  const project = mean('portcullis project (strip, 50 fields -> 10)')
  const stringify = mean('JSON.stringify of the projected result (baseline)')
  const ratio = project / stringify
  return {
    table: bench.table(),
    checks: [
      {
        what: 'projecting a 50-field object with nested arrays to 10 fields costs at most half of JSON.stringify on the result',
        value: `${(project * 1e6).toFixed(0)} ns per projection, ${(ratio * 100).toFixed(0)}% of JSON.stringify (${(stringify * 1e6).toFixed(0)} ns)`,
        ok: ratio <= 0.5,
      },
    ],
  }
}
