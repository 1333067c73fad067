/**
 * @packageDocumentation
 * Write-ahead log, hard state and snapshot store on files: checksummed, group-committed
 */
export {}
