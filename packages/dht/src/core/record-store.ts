import type { DhtRecord, RecordRefusal } from './record'
import { recordKeyHex, replacementVerdict } from './record'

export interface StoredRecord {
  record: DhtRecord
  /** Monotonic time a STORE for it last arrived (or it was put locally); replication skips fresh ones. */
  lastStoredMs: number
}

/**
 * Records this node holds, bounded by `recordsMax`. Verification of signatures happens before a
 * record gets here; this class enforces ownership, sequence order, expiry and the count limit.
 */
export class RecordStore {
  private readonly records = new Map<string, StoredRecord>()

  constructor(private readonly recordsMax: number) {}

  get size(): number {
    return this.records.size
  }

  /** A live record under `key`, if any. */
  get(key: Uint8Array, wallMs: number): DhtRecord | undefined {
    const stored = this.records.get(recordKeyHex(key))
    if (!stored || stored.record.expiresAtMs <= wallMs) return undefined
    return stored.record
  }

  /** Stores `record` if the rules allow; returns why not otherwise. */
  put(record: DhtRecord, nowMs: number, wallMs: number): 'stored' | 'same' | RecordRefusal {
    if (record.expiresAtMs <= wallMs) return 'EXPIRED'
    const keyHex = recordKeyHex(record.key)
    const existing = this.records.get(keyHex)
    if (existing && existing.record.expiresAtMs > wallMs) {
      const verdict = replacementVerdict(existing.record, record)
      if (verdict === 'same') {
        existing.lastStoredMs = nowMs
        return 'same'
      }
      if (verdict !== 'replace') return verdict
      existing.record = record
      existing.lastStoredMs = nowMs
      return 'stored'
    }
    if (!existing && this.records.size >= this.recordsMax) return 'RECORDS_FULL'
    this.records.set(keyHex, { record, lastStoredMs: nowMs })
    return 'stored'
  }

  /** Drops every record whose expiry has passed; returns how many. */
  expire(wallMs: number): number {
    let dropped = 0
    for (const [key, stored] of this.records) {
      if (stored.record.expiresAtMs <= wallMs) {
        this.records.delete(key)
        dropped++
      }
    }
    return dropped
  }

  /** Records with no STORE since `beforeMs`: due for replication. Marks them as just replicated. */
  takeDueForReplication(beforeMs: number, nowMs: number): DhtRecord[] {
    const out: DhtRecord[] = []
    for (const stored of this.records.values()) {
      if (stored.lastStoredMs <= beforeMs) {
        stored.lastStoredMs = nowMs
        out.push(stored.record)
      }
    }
    return out
  }
}
