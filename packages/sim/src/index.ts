/**
 * @packageDocumentation
 * Deterministic simulator: seeded PRNG, virtual clock, simulated network and disk, fault injection, linearizability checker
 */
export {}
