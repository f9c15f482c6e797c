import { createTestIssuer, bearer } from '@portcullis/testing'
import { buildApp } from './app.js'
import { inventoryTable, tourTable } from './report.js'
import { runTour, tourPassed } from './tour.js'

// The demo runs on an embedded default: a test issuer in this process, nothing outside.
const issuer = await createTestIssuer({
  issuer: 'https://auth.video-platform.internal',
  audience: 'videos-api',
})
const redisUrl = process.env.REDIS_URL
const redis = redisUrl === undefined ? {} : { redisUrl }
const app = await buildApp(issuer, redis)
await app.ready()
// The same service as it was before Portcullis: the tour's "before" column.
const unguarded = await buildApp(issuer, { unguarded: true })

console.log('\nPortcullis demo: an internal video-metadata service under attack\n')
console.log('Route inventory (app.portcullis.routes()):')
console.log(inventoryTable(app.portcullis.routes()))

// The same service without its egress budget and enumeration limit, for the bulk-extraction
// steps: what a valid token took before, beside what it takes now.
const unlimited = await buildApp(issuer, { egress: false })
const steps = await runTour(app, issuer, unguarded, unlimited)
await unguarded.close()
await unlimited.close()
console.log('\nThe incident, replayed: before (the same request, no guard) and after (Portcullis)')
console.log(tourTable(steps))

if (process.argv.includes('--serve')) {
  // A fresh instance that logs every request: the tour's counters start over, and the request
  // log keeps a token sent in a query string (`?access_token=`, refused with 400) redacted.
  await app.close()
  const served = await buildApp(issuer, { ...redis, logger: true })
  const address = await served.listen({
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 3000),
  })
  const token = await issuer.token({
    sub: 'search-svc',
    client_id: 'search-svc',
    scope: 'videos:read',
    expiresIn: '1h',
  })
  console.log(`\nServing on ${address}. Try:\n`)
  console.log(`  curl -i ${address}/v1/videos/1`)
  console.log(
    `  curl -i -H '${Object.entries(bearer(token))[0]!.join(': ')}' ${address}/v1/videos/1`,
  )
  console.log(`  curl -i ${address}/healthz`)
  console.log(
    `  curl -i '${address}/v1/videos/1?access_token=${token}'  # 400, redacted in the log\n`,
  )
} else {
  await app.close()
  await issuer.close()
  if (!tourPassed(steps)) {
    console.error('\nSome attempts did not end as expected.')
    process.exitCode = 1
  } else {
    console.log('\nEvery attack was refused and every legitimate call served.')
  }
}
