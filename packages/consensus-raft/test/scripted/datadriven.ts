import { readFileSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'

/**
 * A small data-driven ("golden file") test runner in the style of cockroachdb/datadriven. A script
 * is a sequence of blocks separated by blank lines:
 *
 *     # comment lines (and blank lines) between blocks are ignored
 *     command pos1 pos2 key=value key=(a,b,c)
 *     optional input lines
 *     ----
 *     expected output (no blank lines; an empty output is written as "ok")
 *
 * Each command runs against a handler; its output is compared with the expected text. With
 * UPDATE_GOLDEN=1 the file is rewritten with the actual output instead (review the diff before
 * committing it: the golden text is the assertion).
 */
export interface ScriptArg {
  readonly key: string
  /** `key=(a,b)` gives ['a', 'b']; `key=v` gives ['v']; a positional argument has no values. */
  readonly values: readonly string[]
}

export interface ScriptCommand {
  readonly file: string
  /** 1-based line of the command. */
  readonly line: number
  readonly name: string
  /** Positional arguments, in order. */
  readonly positional: readonly string[]
  readonly args: readonly ScriptArg[]
  readonly input: readonly string[]
}

interface Block {
  readonly command: ScriptCommand
  /** 0-based line range [start, end) of the expected output. */
  readonly outputStart: number
  readonly outputEnd: number
  readonly expected: string
}

export class ScriptError extends Error {}

export function parseScript(file: string, text: string): Block[] {
  const lines = text.split('\n')
  const blocks: Block[] = []
  let position = 0
  while (position < lines.length) {
    const line = lines[position]!
    if (line.trim() === '' || line.startsWith('#')) {
      position++
      continue
    }
    const commandLine = position
    const input: string[] = []
    position++
    while (position < lines.length && lines[position] !== '----') {
      if (lines[position]!.trim() === '') {
        throw new ScriptError(`${file}:${commandLine + 1}: command "${line}" has no ---- separator`)
      }
      input.push(lines[position]!)
      position++
    }
    if (position >= lines.length) {
      throw new ScriptError(`${file}:${commandLine + 1}: command "${line}" has no ---- separator`)
    }
    position++
    const outputStart = position
    while (position < lines.length && lines[position]!.trim() !== '') position++
    const outputEnd = position
    blocks.push({
      command: parseCommand(file, commandLine + 1, line, input),
      outputStart,
      outputEnd,
      expected: lines.slice(outputStart, outputEnd).join('\n'),
    })
  }
  return blocks
}

function parseCommand(file: string, line: number, text: string, input: string[]): ScriptCommand {
  const tokens: string[] = []
  let current = ''
  let depth = 0
  for (const char of text.trim()) {
    if (char === '(') depth++
    if (char === ')') depth--
    if (/\s/.test(char) && depth === 0) {
      if (current !== '') tokens.push(current)
      current = ''
    } else {
      current += char
    }
  }
  if (current !== '') tokens.push(current)
  if (depth !== 0) throw new ScriptError(`${file}:${line}: unbalanced parentheses in "${text}"`)
  const [name, ...rest] = tokens
  const positional: string[] = []
  const args: ScriptArg[] = []
  for (const token of rest) {
    const equals = token.indexOf('=')
    if (equals < 0) {
      positional.push(token)
      continue
    }
    const key = token.slice(0, equals)
    const value = token.slice(equals + 1)
    const values =
      value.startsWith('(') && value.endsWith(')')
        ? value
            .slice(1, -1)
            .split(',')
            .map((part) => part.trim())
            .filter((part) => part !== '')
        : [value]
    args.push({ key, values })
  }
  return { file, line, name: name!, positional, args, input }
}

export type CommandHandler = (command: ScriptCommand) => string

/**
 * Runs every block of `path` through `handler`. Without UPDATE_GOLDEN, throws at the first block
 * whose output differs (later blocks depend on the state it left, so their differences would be
 * noise), naming the file and line and showing a line diff.
 */
export function runScript(path: string, handler: CommandHandler, update = isUpdateMode()): void {
  const file = basename(path)
  const text = readFileSync(path, 'utf8')
  const blocks = parseScript(file, text)
  const replacements: { start: number; end: number; lines: string[] }[] = []
  for (const block of blocks) {
    let actual: string
    try {
      actual = handler(block.command)
    } catch (error) {
      if (error instanceof ScriptError) throw error
      actual = `error: ${error instanceof Error ? error.message : String(error)}`
    }
    actual = normalizeOutput(actual)
    if (update) {
      replacements.push({ start: block.outputStart, end: block.outputEnd, lines: actual.split('\n') })
      continue
    }
    if (actual !== block.expected) {
      throw new ScriptError(
        `${file}:${block.command.line}: output of "${commandText(block.command)}" differs ` +
          `(expected at line ${block.outputStart + 1}; - expected, + actual; rerun with UPDATE_GOLDEN=1 to rewrite)\n` +
          lineDiff(block.expected.split('\n'), actual.split('\n')),
      )
    }
  }
  if (update) {
    const lines = text.split('\n')
    for (const replacement of replacements.reverse()) {
      lines.splice(replacement.start, replacement.end - replacement.start, ...replacement.lines)
    }
    const rewritten = lines.join('\n')
    if (rewritten !== text) writeFileSync(path, rewritten)
  }
}

function isUpdateMode(): boolean {
  return process.env.UPDATE_GOLDEN === '1'
}

function normalizeOutput(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '')
  return lines.length === 0 ? 'ok' : lines.join('\n')
}

function commandText(command: ScriptCommand): string {
  const args = command.args.map((arg) =>
    arg.values.length === 1 ? `${arg.key}=${arg.values[0]}` : `${arg.key}=(${arg.values.join(',')})`,
  )
  return [command.name, ...command.positional, ...args].join(' ')
}

/** A longest-common-subsequence line diff: '  ' same, '- ' only expected, '+ ' only actual. */
export function lineDiff(expected: readonly string[], actual: readonly string[]): string {
  const rows = expected.length
  const columns = actual.length
  const common: number[][] = Array.from({ length: rows + 1 }, () => new Array<number>(columns + 1).fill(0))
  for (let row = rows - 1; row >= 0; row--) {
    for (let column = columns - 1; column >= 0; column--) {
      common[row]![column] =
        expected[row] === actual[column]
          ? common[row + 1]![column + 1]! + 1
          : Math.max(common[row + 1]![column]!, common[row]![column + 1]!)
    }
  }
  const out: string[] = []
  let row = 0
  let column = 0
  while (row < rows || column < columns) {
    if (row < rows && column < columns && expected[row] === actual[column]) {
      out.push(`  ${expected[row]}`)
      row++
      column++
    } else if (row < rows && (column === columns || common[row + 1]![column]! >= common[row]![column + 1]!)) {
      out.push(`- ${expected[row]}`)
      row++
    } else {
      out.push(`+ ${actual[column]}`)
      column++
    }
  }
  return out.join('\n')
}
