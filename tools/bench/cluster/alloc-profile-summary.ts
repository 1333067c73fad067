/**
 * Diagnostic: sums a sampling heap profile (from SOCKETCLOUD_ALLOC_PROFILE) by allocating function,
 * self bytes, largest first. Run: npx tsx tools/bench/cluster/alloc-profile-summary.ts <file> [rows]
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number }
  selfSize: number
  children: ProfileNode[]
}

const [file, rowsText] = process.argv.slice(2)
if (!file) {
  console.error('usage: alloc-profile-summary.ts <profile> [rows]')
  process.exit(2)
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode }
const bySite = new Map<string, number>()
let total = 0
const visit = (node: ProfileNode): void => {
  const { functionName, url, lineNumber } = node.callFrame
  const site = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
  bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize)
  total += node.selfSize
  for (const child of node.children) visit(child)
}
visit(profile.head)
console.log(`total sampled ${(total / 1e6).toFixed(1)} MB`)
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(rowsText ?? 30))) {
  console.log(
    `${(bytes / 1e6).toFixed(2).padStart(8)} MB ${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${site}`,
  )
}
