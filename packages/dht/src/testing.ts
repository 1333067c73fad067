/**
 * Helpers for simulating and benchmarking large DHTs (`@socketcloud/dht/testing`): not needed to run
 * a node, kept out of the main entry point.
 */
export { fillSteadyStateTables } from './testing/steady-state'
