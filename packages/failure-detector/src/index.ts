/**
 * @packageDocumentation
 * Phi accrual failure detection, SWIM-style membership, partition and quorum decisions
 */
export {}
