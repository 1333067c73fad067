import { once } from 'node:events'
import { Agent } from 'node:http'
import { randomBytes } from 'node:crypto'
import {
  freePorts,
  httpCall,
  processUsage,
  startOurNode,
  stopAll,
  temporaryDirectory,
  waitFor,
} from './processes'

const directory = temporaryDirectory('socketcloud-probe-')
const raftPorts = await freePorts(3)
const httpPorts = await freePorts(3)
const nodes = raftPorts.map((_, i) => startOurNode(i, `${directory.path}/n${i}`, httpPorts[i]!, raftPorts))
try {
  await Promise.all(nodes.map((node) => once(node.stdout!, 'data')))
  const probe = new Agent({ keepAlive: false })
  const leader = await waitFor('a leader', 20_000, async () => {
    for (const [i, port] of httpPorts.entries()) {
      const status = JSON.parse((await httpCall(probe, 'GET', `http://127.0.0.1:${port}/status`)).body) as {
        role: string
      }
      if (status.role === 'leader') return i
    }
    return undefined
  })
  const per = () => nodes.map((n) => processUsage([n])!.cpuMicroseconds)
  let before = per()
  await new Promise((r) => setTimeout(r, 3000))
  let after = per()
  console.log(
    'idle 3s cpu ms per node',
    after.map((a, i) => Math.round((a - before[i]!) / 1000)),
    'leader',
    leader,
  )
  const C = Number(process.env.PROBE_C ?? 1)
  const agent = new Agent({ keepAlive: true, maxSockets: C })
  const value = randomBytes(100)
  for (let i = 0; i < 300; i++)
    await httpCall(agent, 'PUT', `http://127.0.0.1:${httpPorts[leader]}/kv/k${i}`, value)
  const { execSync: ex } = await import('node:child_process')
  console.log(ex(`sh /tmp/rafttest/cpu2.sh ${nodes.map((n) => n.pid).join(' ')}`).toString())
  before = per()
  const t0 = performance.now()
  let n = 0
  await Promise.all(
    Array.from({ length: C }, async (_, w) => {
      while (performance.now() - t0 < 3000) {
        await httpCall(agent, 'PUT', `http://127.0.0.1:${httpPorts[leader]}/kv/k${w}-${n % 1000}`, value)
        n++
      }
    }),
  )
  after = per()
  const { execSync } = await import('node:child_process')
  console.log(execSync(`sh /tmp/rafttest/cpu2.sh ${nodes.map((n) => n.pid).join(' ')}`).toString())
  console.log(
    `c=${C} ${n} puts; cpu µs per put per node`,
    after.map((a, i) => Math.round((a - before[i]!) / n)),
  )
} finally {
  await stopAll(nodes)
  directory.remove()
}
