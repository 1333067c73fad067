/**
 * FNV-1a over 32-bit lanes, for the simulator's trace hash. Pure code on purpose: the simulator may
 * not import `node:crypto`, and the trace hash only has to tell runs apart, not resist an attacker.
 * Two lanes with different offset bases give a 64-bit value, so accidental collisions between the
 * traces of different seeds are vanishingly rare.
 */
const FNV_PRIME = 0x01000193
const OFFSET_BASIS_LOW = 0x811c9dc5
const OFFSET_BASIS_HIGH = 0x2c9277b5

export class TraceHasher {
  private low = OFFSET_BASIS_LOW
  private high = OFFSET_BASIS_HIGH

  /** Folds one 32-bit integer into the hash, byte by byte (the FNV-1a loop). */
  updateUint32(value: number): void {
    let low = this.low
    let high = this.high
    for (let shift = 0; shift < 32; shift += 8) {
      const byte = (value >>> shift) & 0xff
      low = Math.imul(low ^ byte, FNV_PRIME)
      high = Math.imul(high ^ byte ^ 0x5a, FNV_PRIME)
    }
    this.low = low >>> 0
    this.high = high >>> 0
  }

  /** Folds a string's UTF-16 code units into the hash. */
  updateString(text: string): void {
    let low = this.low
    let high = this.high
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i)
      low = Math.imul(low ^ (unit & 0xff), FNV_PRIME)
      low = Math.imul(low ^ (unit >>> 8), FNV_PRIME)
      high = Math.imul(high ^ (unit & 0xff) ^ 0x5a, FNV_PRIME)
      high = Math.imul(high ^ (unit >>> 8) ^ 0xa5, FNV_PRIME)
    }
    // A terminator keeps ("ab","c") and ("a","bc") apart.
    low = Math.imul(low ^ 0xff, FNV_PRIME)
    high = Math.imul(high ^ 0xff, FNV_PRIME)
    this.low = low >>> 0
    this.high = high >>> 0
  }

  /** Folds a (possibly fractional) millisecond time in at microsecond resolution. */
  updateTime(timeMs: number): void {
    const micros = Math.round(timeMs * 1000)
    this.updateUint32(micros >>> 0)
    this.updateUint32(Math.floor(micros / 0x1_0000_0000) >>> 0)
  }

  /** 16 lower-case hex characters. */
  digest(): string {
    return this.high.toString(16).padStart(8, '0') + this.low.toString(16).padStart(8, '0')
  }
}

/** FNV-1a 32-bit of a string, for deriving stable seeds from names. */
export function fnv1a32(text: string): number {
  let hash = OFFSET_BASIS_LOW
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    hash = Math.imul(hash ^ (unit & 0xff), FNV_PRIME)
    hash = Math.imul(hash ^ (unit >>> 8), FNV_PRIME)
  }
  return hash >>> 0
}
