/**
 * @packageDocumentation
 * StateMachine framework and the built-in key-value store, counter and lock service
 */
export {}
