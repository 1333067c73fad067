import { Codec, NodeId } from '@socketcloud/core'
import { RaftMessageCodec, type RaftMessage } from '@socketcloud/consensus-raft'
import { defineBenchmark } from '../src/harness'

/**
 * Envelope encode/decode of a Raft-sized append message (64 entries of 100-byte commands): once as a
 * generic payload (one MessagePack map per entry, what any protocol gets from core's Codec), once
 * through the real Raft wire path (RaftMessageCodec, whose entries travel as one binary blob, plus
 * full validation on decode), against JSON of the same message in the same run. JSON cannot carry
 * bytes, so its entries hold base64 — which is what a JSON wire format would have to do.
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
    const raftCodec = new RaftMessageCodec()
    const append: RaftMessage = {
      type: 'append',
      term: 7,
      prevIndex: 999,
      prevTerm: 7,
      commit: 998,
      entries: entries.map((entry) => ({ ...entry, kind: 'command' as const })),
    }
    const raftBytes = codec.encode({ type: 'raft.append', sender, payload: raftCodec.encode(append) })
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
    const raftCases = [
      await ctx.measureLatency('raft wire encode (RaftMessageCodec + envelope)', () => {
        sink += codec.encode({ type: 'raft.append', sender, payload: raftCodec.encode(append) }).length
      }),
      await ctx.measureLatency('raft wire decode+validate (envelope + RaftMessageCodec)', () => {
        const envelope = codec.decode(raftBytes)
        const message = raftCodec.decode(envelope.type, envelope.payload)
        sink += message.type === 'append' ? message.entries.length : 0
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
    for (const row of raftCases) row.bytes = raftBytes.length
    for (const row of baseline) row.bytes = jsonBytes.length
    return {
      name: 'codec',
      cases: [...cases, ...raftCases],
      baseline: { JSON: baseline },
      notes: [
        'msgpackr rows: generic payload (a map per entry); raft wire rows: the same append as Raft sends it.',
        `envelope ${bytes.length} B (raft wire ${raftBytes.length} B) vs JSON ${jsonBytes.length} B; checksum ${sink > 0 ? 'ok' : 'none'}`,
      ],
    }
  },
})
