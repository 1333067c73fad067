export { createNodeMachine, NodeMachine } from './node-machine'
export type { NodeMachineOptions, NodeMachineParts, NodePartName } from './node-machine'
export { memberDirectory, MEMBER_DIRECTORY_DEFAULTS } from './member-directory'
export type { DirectoryRecord, MemberDirectoryOptions, MemberDirectoryType } from './member-directory'
export { NodeServices, NotLeaderError } from './node-services'
export type {
  ClientSession,
  ClusterMember,
  ClusterStatus,
  Consistency,
  DirectoryMember,
  MemberState,
  NodeServicesComponents,
  NodeServicesEvents,
  WriteOptions,
} from './node-services'
export { ServiceError, fromRuntimeError } from './service-error'
export type { ServiceErrorInit, WriteOutcome } from './service-error'
export { WatchHub, WATCH_HUB_DEFAULTS } from './watch-hub'
export type { WatchEvent, WatchHubOptions, WatchSink, WatchStart } from './watch-hub'
