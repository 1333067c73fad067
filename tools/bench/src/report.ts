import { cpus, totalmem } from 'node:os'
import type { BenchCase, BenchReport } from './harness'

export function environmentHeader(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  return [
    `node ${process.version} · ${process.platform}/${process.arch}`,
    `${cpu} · ${cpus().length} cores · ${Math.round(totalmem() / 2 ** 30)} GiB`,
    new Date().toISOString(),
  ].join('\n')
}

function formatValue(value: string | number | undefined): string {
  if (value === undefined) return ''
  if (typeof value === 'number') return value.toLocaleString('en-US', { maximumFractionDigits: 2 })
  return value
}

/** A plain-text table with one row per case; columns are the union of the cases' keys. */
export function formatTable(rows: readonly BenchCase[]): string {
  const columns: string[] = ['case']
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key)
  const cells = rows.map((row) => columns.map((column) => formatValue(row[column])))
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((cell) => cell[i]!.length)))
  const line = (values: string[]) =>
    `| ${values.map((value, i) => (i === 0 ? value.padEnd(widths[i]!) : value.padStart(widths[i]!))).join(' | ')} |`
  return [
    line(columns),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...cells.map(line),
  ].join('\n')
}

export function formatReport(report: BenchReport): string {
  const parts = [`## ${report.name}`, formatTable(report.cases)]
  for (const [name, cases] of Object.entries(report.baseline ?? {})) {
    parts.push(`baseline: ${name}`, formatTable(cases))
  }
  for (const note of report.notes ?? []) parts.push(`note: ${note}`)
  return parts.join('\n\n')
}
