import { assert } from '@socketcloud/core'
import type { NodeId } from '@socketcloud/core'
import type { Contact } from './contact'
import { compareDistance } from './distance'

type CandidateState = 'waiting' | 'inflight' | 'answered' | 'failed'

interface Candidate {
  readonly contact: Contact
  state: CandidateState
  /** Sequential requests it took to learn of this contact: 0 for our own table, reporter's hop + 1 otherwise. */
  hop: number
}

/** A contact the lookup asked, with the hop it was learned at. */
export interface LookupRequest {
  readonly contact: Contact
  readonly hop: number
}

/**
 * The iterative lookup of Maymounkov & Mazières as a pure state machine, one per running lookup.
 *
 * It keeps a shortlist of candidates sorted by XOR distance to the target and asks, at most `alpha`
 * at a time, the closest ones it has not asked yet, but only among the `k` closest candidates that
 * have not failed: a contact further out can no longer change the answer. It is done when those `k`
 * closest have all answered (or when nobody is left to ask). Timeouts are not its business: the
 * protocol owns request deadlines and reports a failure through `failed`.
 */
export class Lookup {
  private readonly candidates: Candidate[] = []
  private readonly byHex = new Map<string, Candidate>()
  private inflightCount = 0
  private requestCount = 0

  constructor(
    readonly target: Uint8Array,
    private readonly localId: NodeId,
    private readonly k: number,
    private readonly alpha: number,
    /** Shortlist length beyond which the farthest waiting candidates are forgotten. */
    private readonly candidatesMax: number,
  ) {
    assert(candidatesMax >= k, 'the shortlist must hold at least k candidates')
  }

  /** Requests sent so far. */
  get messages(): number {
    return this.requestCount
  }

  get inflight(): number {
    return this.inflightCount
  }

  /** Adds contacts learned at `hop` (0: from our own table). Ourselves and known ones are skipped. */
  add(contacts: readonly Contact[], hop: number): void {
    for (const contact of contacts) {
      if (contact.id.equals(this.localId)) continue
      const known = this.byHex.get(contact.id.hex)
      if (known) {
        if (hop < known.hop) known.hop = hop
        continue
      }
      const candidate: Candidate = { contact, state: 'waiting', hop }
      this.insertSorted(candidate)
      this.byHex.set(contact.id.hex, candidate)
    }
    this.trim()
  }

  /** Picks the next contacts to ask and marks them in flight; empty when the window is full or done. */
  next(room: number): LookupRequest[] {
    const out: LookupRequest[] = []
    let live = 0
    for (const candidate of this.candidates) {
      if (this.inflightCount >= this.alpha || out.length >= room || live >= this.k) break
      if (candidate.state === 'failed') continue
      live++
      if (candidate.state !== 'waiting') continue
      candidate.state = 'inflight'
      this.inflightCount++
      this.requestCount++
      out.push({ contact: candidate.contact, hop: candidate.hop })
    }
    return out
  }

  /** `id` answered with `contacts`; returns false when we never asked it (the reply is then ignored). */
  answered(id: NodeId, contacts: readonly Contact[]): boolean {
    const candidate = this.byHex.get(id.hex)
    if (!candidate || candidate.state !== 'inflight') return false
    candidate.state = 'answered'
    this.inflightCount--
    this.add(contacts, candidate.hop + 1)
    return true
  }

  /** `id` timed out or could not be reached. */
  failed(id: NodeId): void {
    const candidate = this.byHex.get(id.hex)
    if (!candidate || candidate.state !== 'inflight') return
    candidate.state = 'failed'
    this.inflightCount--
  }

  /** Hop at which `id` was learned, if it is a candidate. */
  hopOf(id: NodeId): number | undefined {
    return this.byHex.get(id.hex)?.hop
  }

  /** Done when the k closest live candidates have all answered, or nobody is left to ask. */
  isDone(): boolean {
    let live = 0
    for (const candidate of this.candidates) {
      if (live >= this.k) break
      if (candidate.state === 'failed') continue
      live++
      if (candidate.state !== 'answered') return false
    }
    // Requests still in flight beyond the k closest cannot change the answer; their replies are
    // still matched (and still refresh the routing table) after the lookup ends.
    return true
  }

  /** The closest contacts that answered, closest first, at most k. */
  closestAnswered(): Contact[] {
    const out: Contact[] = []
    for (const candidate of this.candidates) {
      if (out.length >= this.k) break
      if (candidate.state === 'answered') out.push(candidate.contact)
    }
    return out
  }

  private insertSorted(candidate: Candidate): void {
    let low = 0
    let high = this.candidates.length
    const bytes = candidate.contact.id.bytes
    while (low < high) {
      const middle = (low + high) >>> 1
      if (compareDistance(this.target, this.candidates[middle]!.contact.id.bytes, bytes) < 0) low = middle + 1
      else high = middle
    }
    this.candidates.splice(low, 0, candidate)
  }

  private trim(): void {
    for (let i = this.candidates.length - 1; i >= 0 && this.candidates.length > this.candidatesMax; i--) {
      const candidate = this.candidates[i]!
      if (candidate.state !== 'waiting' && candidate.state !== 'failed') continue
      this.candidates.splice(i, 1)
      this.byHex.delete(candidate.contact.id.hex)
    }
  }
}
