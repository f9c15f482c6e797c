// Request body allowlists: checking a 20-field body (nested objects and arrays of objects)
// against its rule, beside JSON.parse of the same body (the parsing that precedes the check on
// every request). Issue #20 target: the check costs less than the parse.
import { compileBodyRule } from '@portcullis/allowlist'
import { Bench } from 'tinybench'

// A PATCH of a video record: 20 fields, a nested object, an array of scalars and an array of
// 5 chapter objects. Fresh strings per body, as a parser would make them.
function body(n) {
  return {
    title: `Video number ${n}`,
    description: 'A long evening by the river, recorded live.',
    language: 'en',
    durationSec: 300 + n,
    publishedAt: '2024-05-01T12:00:00.000Z',
    category: 'music',
    explicit: false,
    license: 'cc-by',
    location: { city: 'Lyon', country: 'FR', lat: 45.76, lon: 4.83 },
    tags: ['music', 'live', 'concert', 'jazz', 'hd'],
    chapters: Array.from({ length: 5 }, (_, i) => ({ title: `Chapter ${i}`, startSec: i * 60 })),
    thumbnail: `https://cdn.test/${n}.jpg`,
    allowComments: true,
    allowEmbedding: true,
    ageRestricted: false,
    series: `series-${n % 7}`,
    episode: n % 12,
    season: 1,
    credits: 'Ada, Grace, Edsger',
    notes: null,
  }
}

const WRITABLE = [
  'title',
  'description',
  'language',
  'durationSec',
  'publishedAt',
  'category',
  'explicit',
  'license',
  'location.city',
  'location.country',
  'location.lat',
  'location.lon',
  'tags[]',
  'chapters[].title',
  'chapters[].startSec',
  'thumbnail',
  'allowComments',
  'allowEmbedding',
  'ageRestricted',
  'series',
  'episode',
  'season',
  'credits',
  'notes',
]

export async function bodyBench({ time }) {
  const texts = Array.from({ length: 64 }, (_, n) => JSON.stringify(body(n)))
  const bodies = texts.map((text) => JSON.parse(text))
  if (Object.keys(bodies[0]).length !== 20) throw new Error('benchmark setup: 20 fields')
  const rule = compileBodyRule(
    { writable: WRITABLE, byScope: { 'videos:admin': ['visibility', 'ownerId'] } },
    { route: 'PATCH /v1/videos/:id' },
  )
  const strip = compileBodyRule({ writable: WRITABLE, unknown: 'strip' })
  const scopes = new Set(['videos:write'])
  for (const value of bodies) {
    const result = rule.check(value, scopes)
    if (!result.ok || result.body !== value) throw new Error('benchmark setup: a clean body')
  }
  const dirty = bodies.map((value) => ({ ...value, role: 'admin', chapters: [...value.chapters] }))

  let i = 0
  let sink = 0
  const bench = new Bench({ name: 'request body allowlist', time })
  bench
    .add('JSON.parse of the body (baseline)', () => {
      sink += JSON.parse(texts[i++ & 63]).episode
    })
    .add('portcullis check (20 fields, all writable)', () => {
      if (rule.check(bodies[i++ & 63], scopes).ok) sink++
    })
    .add('JSON.parse + portcullis check', () => {
      if (rule.check(JSON.parse(texts[i++ & 63]), scopes).ok) sink++
    })
    .add('portcullis check (strip an undeclared field: a copy)', () => {
      if (strip.check(dirty[i++ & 63], scopes).ok) sink++
    })
    .add('portcullis check (refuse an undeclared field)', () => {
      if (!rule.check(dirty[i++ & 63], scopes).ok) sink++
    })
  await bench.run()
  if (sink === 0) throw new Error('unreachable')
  const mean = (name) => bench.getTask(name).result.latency.mean
  const check = mean('portcullis check (20 fields, all writable)')
  const parse = mean('JSON.parse of the body (baseline)')
  const ratio = check / parse
  return {
    table: bench.table(),
    checks: [
      {
        what: 'checking a 20-field body against its rule costs less than JSON.parse of it',
        value: `${(check * 1e6).toFixed(0)} ns per check, ${(ratio * 100).toFixed(0)}% of JSON.parse (${(parse * 1e6).toFixed(0)} ns)`,
        ok: ratio < 1,
      },
    ],
  }
}
