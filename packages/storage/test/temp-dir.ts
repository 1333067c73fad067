import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Temporary directories under os.tmpdir(), removed by `cleanup()` (call it in afterEach). */
export class TempDirs {
  private readonly created: string[] = []

  async make(prefix = 'socketcloud-storage-'): Promise<string> {
    const directory = await mkdtemp(join(tmpdir(), prefix))
    this.created.push(directory)
    return directory
  }

  async cleanup(): Promise<void> {
    for (const directory of this.created.splice(0)) await rm(directory, { recursive: true, force: true })
  }
}
