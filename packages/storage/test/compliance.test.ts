/**
 * Goal: the file stores keep the shared LogStore and SnapshotStore contracts, the same suites the
 * simulator's stores and users' own implementations pass. Method: @socketcloud/sim's compliance
 * suites, each test on a fresh temporary directory that is reopened as the suite asks.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runLogStoreTests, runSnapshotStoreTests } from '@socketcloud/sim'
import { FileLogStore, FileSnapshotStore } from '@socketcloud/storage'

runLogStoreTests(async () => {
  const directory = await mkdtemp(join(tmpdir(), 'socketcloud-log-compliance-'))
  return {
    impl: { open: () => FileLogStore.open(directory, { segmentBytesMax: 4096 }) },
    teardown: () => rm(directory, { recursive: true, force: true }),
  }
}, 'FileLogStore: LogStore compliance')

runSnapshotStoreTests(async () => {
  const directory = await mkdtemp(join(tmpdir(), 'socketcloud-snapshot-compliance-'))
  return {
    impl: { open: () => FileSnapshotStore.open(directory) },
    teardown: () => rm(directory, { recursive: true, force: true }),
  }
}, 'FileSnapshotStore: SnapshotStore compliance')
