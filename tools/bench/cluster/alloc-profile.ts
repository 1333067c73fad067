import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'

/**
 * Diagnostic: V8's sampling heap profiler with collected objects kept in the samples, so the profile
 * shows where garbage is allocated (what drives scavenges), not only what is still alive.
 * `stop()` writes the profile to `path`.
 */
export async function startAllocationProfile(path: string): Promise<{ stop: () => Promise<void> }> {
  const session = new Session()
  session.connect()
  const post = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    )
  await post('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  })
  return {
    stop: async () => {
      const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown }
      writeFileSync(path, JSON.stringify(profile))
      session.disconnect()
    },
  }
}
