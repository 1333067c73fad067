import { Codec, NodeId } from '@socketcloud/core'
import { defineBenchmark } from '../src/harness'

/**
 * Envelope encode/decode of a Raft-sized append message (64 entries of 100-byte commands), against
 * JSON of the same message in the same run. JSON cannot carry bytes, so its entries hold base64 —
 * which is what a JSON wire format would have to do.
 */
export default defineBenchmark({
  name: 'codec',
  description: 'core Codec: encode/decode of a 64-entry append envelope vs JSON',
  async run(ctx) {
    const codec = new Codec()
    const sender = NodeId.fromHex('5a'.repeat(32))
    const entries = Array.from({ length: 64 }, (_, i) => ({
      index: 1000 + i,
      term: 7,
      kind: 'command',
      data: new Uint8Array(100).fill(i),
    }))
    const payload = { term: 7, leader: sender.hex, prevIndex: 999, prevTerm: 7, commit: 998, entries }
    const bytes = codec.encode({ type: 'raft.append', sender, payload })
    const jsonPayload = {
      ...payload,
      entries: entries.map((entry) => ({ ...entry, data: Buffer.from(entry.data).toString('base64') })),
    }
    const jsonText = JSON.stringify({
      version: 1,
      type: 'raft.append',
      sender: sender.hex,
      payload: jsonPayload,
    })
    const jsonBytes = Buffer.from(jsonText)
    let sink = 0

    const cases = [
      await ctx.measureLatency('msgpackr encode', () => {
        sink += codec.encode({ type: 'raft.append', sender, payload }).length
      }),
      await ctx.measureLatency('msgpackr decode+validate', () => {
        sink += (codec.decode(bytes).payload as { entries: unknown[] }).entries.length
      }),
    ]
    const baseline = [
      await ctx.measureLatency('JSON encode', () => {
        sink += Buffer.from(
          JSON.stringify({ version: 1, type: 'raft.append', sender: sender.hex, payload: jsonPayload }),
        ).length
      }),
      await ctx.measureLatency('JSON decode', () => {
        sink += (JSON.parse(jsonBytes.toString()) as { payload: { entries: unknown[] } }).payload.entries
          .length
      }),
    ]
    for (const row of cases) row.bytes = bytes.length
    for (const row of baseline) row.bytes = jsonBytes.length
    return {
      name: 'codec',
      cases,
      baseline: { JSON: baseline },
      notes: [
        `envelope ${bytes.length} B vs JSON ${jsonBytes.length} B; checksum ${sink > 0 ? 'ok' : 'none'}`,
      ],
    }
  },
})
