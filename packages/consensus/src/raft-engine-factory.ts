import type { Random, ReplicaId } from '@socketcloud/core'
import {
  RaftEngine,
  RaftMessageCodec,
  type RaftMessage,
  type RaftMessageCodecOptions,
  type RaftOptions,
} from '@socketcloud/consensus-raft'
import type { EngineFactory } from './engine-factory'

export interface RaftEngineFactoryInit {
  /** The initial voters (replica ids = NodeId hex); a restart takes the membership from its log. */
  readonly voters: readonly ReplicaId[]
  readonly learners?: readonly ReplicaId[]
  /** Seeded randomness for election timeouts; give each replica its own stream. */
  readonly random: Random
  readonly options?: Partial<RaftOptions>
  readonly codecOptions?: Partial<RaftMessageCodecOptions>
}

/** Builds `@socketcloud/consensus-raft` engines for the runtime, from what the stores recovered. */
export function raftEngineFactory(init: RaftEngineFactoryInit): EngineFactory<RaftMessage, RaftEngine> {
  return {
    codec: new RaftMessageCodec(init.codecOptions),
    create: (recovered) =>
      new RaftEngine({
        id: recovered.id,
        voters: init.voters,
        learners: init.learners ?? [],
        random: init.random,
        hardState: recovered.hardState,
        entries: recovered.entries,
        compactedIndex: recovered.compactedIndex,
        compactedTerm: recovered.compactedTerm,
        snapshot: recovered.snapshot,
        appliedIndex: recovered.appliedIndex,
        ...(init.options ? { options: init.options } : {}),
      }),
    snapshotMembership: (engine, appliedIndex) => engine.snapshotMeta(appliedIndex).membership,
  }
}
