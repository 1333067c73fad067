/**
 * @packageDocumentation
 * TypeScript client for the SocketCloud node HTTP/WebSocket API: safe retries, failover, typed errors
 */
export {}
