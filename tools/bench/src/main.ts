import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createContext, type Benchmark } from './harness'
import { environmentHeader, formatReport } from './report'

const benchmarksDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'benchmarks')

function available(): string[] {
  return readdirSync(benchmarksDir)
    .filter((file) => file.endsWith('.ts'))
    .map((file) => file.slice(0, -3))
    .sort()
}

async function load(name: string): Promise<Benchmark> {
  const module = (await import(pathToFileURL(join(benchmarksDir, `${name}.ts`)).href)) as {
    default: Benchmark
  }
  return module.default
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const json = args.includes('--json')
  const quick = args.includes('--quick')
  const names = args.filter((arg) => !arg.startsWith('--'))

  if (args.includes('--list') || names.length === 0) {
    const lines = await Promise.all(
      available().map(async (name) => `${name.padEnd(20)} ${(await load(name)).description}`),
    )
    console.log(['usage: npm run bench -- <name> [--json] [--quick]', '', ...lines].join('\n'))
    if (names.length === 0 && !args.includes('--list')) process.exitCode = 2
    return
  }
  const unknown = names.filter((name) => !available().includes(name))
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; try --list`)
    process.exitCode = 2
    return
  }

  console.log(environmentHeader())
  for (const name of names) {
    const benchmark = await load(name)
    console.log(`\n${benchmark.description}${quick ? ' (quick run: indicative only)' : ''}\n`)
    const report = await benchmark.run(createContext(quick))
    console.log(formatReport(report))
    if (json) console.log(JSON.stringify(report))
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
