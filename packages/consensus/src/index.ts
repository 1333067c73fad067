/**
 * @packageDocumentation
 * Runtime that drives any consensus engine with a transport, storage, state machine and clock
 */
export {}
