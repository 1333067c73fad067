/**
 * @packageDocumentation
 * The SocketCloud reference node: assembly of identity, encrypted transports, failure detection,
 * Raft consensus over file storage and the built-in state machines, behind an HTTP/WebSocket API.
 */
export {}
