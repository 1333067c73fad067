// A first session with a SocketCloud cluster: put, get, compare-and-set, a counter, a lock and a watch.
// Start the local cluster with `npm start` at the repository root, then, from the repository root:
//   npx tsx --conditions=@socketcloud/source packages/client/examples/quickstart.ts
// SOCKETCLOUD_ENDPOINTS (comma-separated URLs) points it at another cluster.
import { LockHeldError, RevisionMismatchError, SocketCloudClient } from '@socketcloud/client'

const endpoints = (
  process.env.SOCKETCLOUD_ENDPOINTS ?? 'http://127.0.0.1:7070,http://127.0.0.1:7071,http://127.0.0.1:7072'
).split(',')
const client = new SocketCloudClient({ endpoints })
const text = new TextDecoder()

const health = await client.health()
console.log(`connected to ${health.endpoint}: node ${health.id.slice(0, 8)} is ${health.role}`)

// Watch first, so the changes below show up; it resumes by itself if its node goes away.
const { revision: startRevision } = await client.kv.list({ prefix: 'demo/', limit: 1 })
const watch = client.watch('demo/', { fromRevision: startRevision + 1 })

const first = await client.kv.put('demo/greeting', 'hello')
const entry = await client.kv.get('demo/greeting')
console.log(`get demo/greeting = ${text.decode(entry!.value)} (revision ${entry!.revision})`)

await client.kv.put('demo/greeting', 'hello again', { prevRevision: first.revision })
try {
  await client.kv.put('demo/greeting', 'lost update', { prevRevision: first.revision })
} catch (error) {
  if (!(error instanceof RevisionMismatchError)) throw error
  console.log(`compare-and-set refused: the key is at revision ${error.current} now`)
}

console.log(`counter demo/visits = ${await client.counter.add('demo/visits', 1)}`)

const lease = await client.lock.acquire('demo/lock', { owner: 'quickstart', ttlMs: 10_000 })
try {
  await client.lock.acquire('demo/lock', { owner: 'someone-else', ttlMs: 10_000 })
} catch (error) {
  if (!(error instanceof LockHeldError)) throw error
  console.log(`lock held by ${error.holder} (fencing token ${lease.fencingToken})`)
}
await client.lock.release('demo/lock', { owner: 'quickstart', fencingToken: lease.fencingToken })
await client.kv.delete('demo/greeting')

for await (const event of watch) {
  if (event.type === 'put')
    console.log(`watch: put ${event.key} = ${text.decode(event.value)} @${event.revision}`)
  if (event.type === 'delete') console.log(`watch: delete ${event.key} @${event.revision}`)
  if (event.type === 'delete' && event.key === 'demo/greeting') break
}
