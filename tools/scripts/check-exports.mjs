#!/usr/bin/env node
// Runs publint on every publishable package so a broken `exports` map never reaches npm.
// Needs `npm run build` first (publint checks that the files the exports point to exist).
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'

let failures = 0
for (const name of readdirSync('packages')) {
  const pkgDir = join('packages', name)
  const manifestPath = join(pkgDir, 'package.json')
  if (!existsSync(manifestPath)) continue
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
  if (manifest.private) continue
  const { messages } = await publint({ pkgDir, strict: true, level: 'suggestion' })
  if (messages.length === 0) {
    console.log(`publint ${manifest.name}: ok`)
    continue
  }
  for (const message of messages) {
    console.error(
      `publint ${manifest.name}: [${message.type}] ${formatMessage(message, manifest) ?? message.code}`,
    )
  }
  if (messages.some((message) => message.type === 'error' || message.type === 'warning')) failures++
}
if (failures > 0) {
  console.error(`publint found problems in ${failures} package(s)`)
  process.exit(1)
}
