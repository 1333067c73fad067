/**
 * @packageDocumentation
 * The SocketCloud reference node: assembly of identity, encrypted transports, failure detection,
 * Raft consensus over file storage and the built-in state machines, behind an HTTP/WebSocket API.
 * The `socketcloud` command is the usual way in; these exports let a program embed a node or a
 * local cluster (tests and benchmarks do).
 */
export { startNode, nodeIdentity, IDENTITY_FILE, type RunningNode } from './assembly/node'
export {
  resolveNodeConfig,
  environmentLayer,
  fileLayer,
  parsePeers,
  NODE_DEFAULTS,
  CONFIG_KEYS,
  ENVIRONMENT_VARIABLES,
  LOG_LEVELS,
  type NodeConfig,
  type PeerSpec,
  type ConfigLayer,
  type LogLevel,
} from './config/node-config'
export {
  startLocalCluster,
  prepareLocalNodes,
  spawnLocalNode,
  stopLocalNodes,
  waitForLeader,
  banner,
  type LocalCluster,
  type LocalClusterOptions,
  type LocalNodeProcess,
  type LocalNodeSpec,
} from './launcher/local-cluster'
export { freePorts } from './launcher/ports'
export { ApiServer, ApiAuthorizer, API_LIMIT_DEFAULTS, type ApiServerOptions, type ApiLimits } from './api'
export {
  NodeServices,
  createNodeMachine,
  NodeMachine,
  ServiceError,
  memberDirectory,
  type NodeServicesComponents,
  type NodeMachineOptions,
  type DirectoryRecord,
  type ClusterStatus,
  type ClusterMember,
} from './services'
