/**
 * Goal: the golden-file runner itself is trustworthy — a wrong expectation fails with the file,
 * line and a diff; update mode rewrites only the outputs; malformed scripts are rejected.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { lineDiff, parseScript, runScript, ScriptError, type ScriptCommand } from './datadriven'

const directories: string[] = []
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true })
})

function scriptFile(text: string): string {
  const directory = mkdtempSync(join(tmpdir(), 'datadriven-'))
  directories.push(directory)
  const path = join(directory, 'case.txt')
  writeFileSync(path, text)
  return path
}

const echo = (command: ScriptCommand): string =>
  [
    command.name,
    ...command.positional,
    ...command.args.map((arg) => `${arg.key}=${arg.values.join('|')}`),
    ...command.input,
  ].join(' ')

describe('datadriven runner', () => {
  it('parses commands, positional and key=(list) arguments, input lines and outputs', () => {
    const blocks = parseScript(
      'x.txt',
      '# comment\n\nadd-nodes 3 voters=(1, 2,3) flag=true\nin one\n----\nok\n\nstatus 1\n----\na\nb\n',
    )
    expect(blocks.map((block) => block.command.name)).toEqual(['add-nodes', 'status'])
    expect(blocks[0]!.command.positional).toEqual(['3'])
    expect(blocks[0]!.command.args).toEqual([
      { key: 'voters', values: ['1', '2', '3'] },
      { key: 'flag', values: ['true'] },
    ])
    expect(blocks[0]!.command.input).toEqual(['in one'])
    expect(blocks[0]!.command.line).toBe(3)
    expect(blocks[1]!.expected).toBe('a\nb')
  })

  it('rejects a command without a ---- separator', () => {
    expect(() => parseScript('x.txt', 'status 1\n\nstatus 2\n----\nok\n')).toThrow(
      /x.txt:1: .*no ---- separator/,
    )
  })

  it('fails on a differing output naming the file, line and diff', () => {
    const path = scriptFile('hello a\n----\nhello a\n\nhello b\n----\nwrong\n')
    expect(() => runScript(path, echo, false)).toThrow(ScriptError)
    expect(() => runScript(path, echo, false)).toThrow(
      /case.txt:5: output of "hello b" differs[\s\S]*- wrong\n\+ hello b/,
    )
  })

  it('update mode rewrites only the outputs, and the rewritten file then passes', () => {
    const path = scriptFile('# keep me\nhello a\n----\nstale\nlines\n\nhello b\n----\n\n# end\n')
    runScript(path, echo, true)
    expect(readFileSync(path, 'utf8')).toBe(
      '# keep me\nhello a\n----\nhello a\n\nhello b\n----\nhello b\n\n# end\n',
    )
    expect(() => runScript(path, echo, false)).not.toThrow()
  })

  it('reports errors thrown by a command as its output', () => {
    const path = scriptFile('boom\n----\nerror: kaput\n')
    expect(() =>
      runScript(
        path,
        () => {
          throw new Error('kaput')
        },
        false,
      ),
    ).not.toThrow()
  })

  it('diffs lines with the expected side first', () => {
    expect(lineDiff(['a', 'b', 'c'], ['a', 'x', 'c'])).toBe('  a\n- b\n+ x\n  c')
  })
})
