/**
 * @packageDocumentation
 * Deterministic replicated state machines: a typed framework for defining your own (commands and
 * queries with validated arguments and typed results) and three built on it — a key-value store with
 * revisions and compare-and-set, named counters, and a lock service with leases and fencing tokens.
 * Each machine implements core's `StateMachine`, which the consensus driver applies in log order.
 *
 * @example
 * ```ts
 * import { keyValueStore } from '@socketcloud/state-machines'
 * const kv = keyValueStore()
 * const replica = kv.create() // a StateMachine for the consensus driver
 * const command = kv.encodeCommand('put', { key: 'a', value: new Uint8Array([1]) })
 * const result = kv.decodeCommandResult('put', replica.apply(command, { index: 1, term: 1, timestampMs: 0 }))
 * if (result.ok) console.log(result.value.revision) // 1
 * ```
 */
export { CommandError, FrameworkErrorCode } from './core/command-error'
export {
  MachineType,
  DefinedStateMachine,
  MACHINE_DEFAULTS,
  command,
  defineStateMachine,
  query,
} from './core/define'
export type {
  ArgsOf,
  CommandDefinition,
  CommandMap,
  CommandResult,
  MachineDefinition,
  MachineLimits,
  QueryDefinition,
  QueryMap,
  ResultOf,
  StateCapture,
} from './core/define'
export { KEY_VALUE_DEFAULTS, keyValueStore } from './core/key-value/key-value-store'
export type {
  CompareAndSetResult,
  DeleteResult,
  GetResult,
  KeyValue,
  KeyValueMachineType,
  KeyValueOptions,
  PutResult,
  RangeResult,
} from './core/key-value/key-value-store'
export { COUNTER_DEFAULTS, counterService } from './core/counter/counter-service'
export type { CounterMachineType, CounterOptions, CounterValue } from './core/counter/counter-service'
export { LOCK_DEFAULTS, lockService } from './core/lock/lock-service'
export type {
  AcquireResult,
  LockGrant,
  LockMachineType,
  LockOptions,
  LockView,
} from './core/lock/lock-service'
export {
  COMBINED_MACHINE_NAME,
  CombinedStateMachine,
  UNKNOWN_PART,
  combineStateMachines,
} from './core/combine'
export type { MachineFactory, MachineParts, PartOf } from './core/combine'
