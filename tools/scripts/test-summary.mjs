#!/usr/bin/env node
// Prints vitest's totals from its JSON report as the single closing line CI reads: `N passed, N failed`.
import { existsSync, readFileSync } from 'node:fs'

const reportPath = process.argv[2] ?? 'reports/vitest.json'
if (!existsSync(reportPath)) {
  console.log('0 passed, 1 failed')
  console.error(`(no vitest report at ${reportPath}: npm test stopped before the tests ran)`)
  process.exit(0)
}
const report = JSON.parse(readFileSync(reportPath, 'utf8'))
const failedSuites = (report.testResults ?? []).filter(
  (suite) => suite.status === 'failed' && suite.assertionResults?.length === 0,
).length
console.log(`${report.numPassedTests} passed, ${report.numFailedTests + failedSuites} failed`)
