/**
 * @packageDocumentation
 * TCP, UDP, WebSocket (uWebSockets.js) and in-memory transports behind one interface
 */
export {}
