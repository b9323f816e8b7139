// Host text (a rule's comment, a host's stderr, a history note) can hold terminal escape
// sequences; what the operator reads must show them, never let the terminal run them.
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { HostDone } from '../../src/apply/events.ts'
import { reportFailure } from '../../src/cli/failure.ts'
import { formatEntry } from '../../src/cli/history-command.ts'
import { previewText } from '../../src/cli/preview-text.ts'
import { JsonReporter } from '../../src/report/json.ts'
import { jsonText } from '../../src/report/json-text.ts'
import { ListrReporter } from '../../src/report/listr.ts'
import { PlainReporter } from '../../src/report/plain.ts'
import { printable } from '../../src/report/printable.ts'
import { DiffEntry } from '../../src/plan/diff.ts'

// C0 but newline and tab, DEL, C1.
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/

// The reading an operator would do: \xHH or \uHHHH after an odd run of backslashes is that
// character.
function unprintable(text: string): string {
  return text.replace(/(\\*)(x[0-9a-f]{2}|u[0-9a-f]{4})/g, (_, slashes: string, escape: string) =>
    '\\'.repeat(slashes.length >> 1) + (slashes.length % 2 ? String.fromCharCode(parseInt(escape.slice(1), 16)) : escape),
  )
}

describe('printable', () => {
  it.each([
    ['a rule line stays as it is', '-A INPUT -m comment --comment "web \\"in\\"" -j ACCEPT', '-A INPUT -m comment --comment "web \\"in\\"" -j ACCEPT'],
    ['newline and tab stay', 'one\ttwo\nthree', 'one\ttwo\nthree'],
    ['non-ASCII text stays', 'café ünïcode ✔', 'café ünïcode ✔'],
    ['ESC, as in a clear screen', 'x\x1b[2Jy', 'x\\x1b[2Jy'],
    ['an OSC 52 clipboard write ended by BEL', '\x1b]52;c;cm0gLXJmIH4K\x07', '\\x1b]52;c;cm0gLXJmIH4K\\x07'],
    ['a carriage return that would overwrite the line', 'ok\rFAKE', 'ok\\x0dFAKE'],
    ['NUL and DEL', '\x00\x7f', '\\x00\\x7f'],
    ['C1: the one-character CSI and the last C1', '\x9b2J\x9f\x80', '\\x9b2J\\x9f\\x80'],
    ['the first character past C1 stays', '\xa0', '\xa0'],
    ['a literal "\\x1b" typed into a comment reads apart from a real ESC', 'a\\x1b', 'a\\\\x1b'],
    ['a backslash before a real ESC', 'a\\\x1b', 'a\\\\\\x1b'],
    ['"x1b" without a backslash stays', 'max1b x7f', 'max1b x7f'],
    ['a right-to-left override that would reorder the rest of the line', 'ACCEPT \u202e PORD', 'ACCEPT \\u202e PORD'],
    ['isolates, marks and separators', '\u2066\u2069\u200f\u061c\u2028', '\\u2066\\u2069\\u200f\\u061c\\u2028'],
    ['a literal "\\u202e" typed into a comment reads apart from a real override', 'a\\u202e menu1234', 'a\\\\u202e menu1234'],
  ])('%s', (_, input, shown) => {
    expect(printable(input)).toBe(shown)
    expect(printable(input)).not.toMatch(RAW_CONTROL)
    expect(unprintable(printable(input))).toBe(input)
  })

  it('never gives two texts the same reading', () => {
    const pieces = ['\\', 'x', '1b', '\x1b', 'a', '\\\\', '\x9b']
    const texts = pieces.flatMap((a) => pieces.flatMap((b) => pieces.map((c) => a + b + c)))
    for (const t of texts) expect(unprintable(printable(t))).toBe(t)
  })
})

const CLEAR = '\x1b[2J'
const CSI = '\x9b'
const forged = (host: string): HostDone => ({
  kind: 'host-done',
  host,
  outcome: 'drift',
  diff: [new DiffEntry('ipv4', 'filter', 'INPUT', 'extra', `-A INPUT -m comment --comment "x${CLEAR}y${CSI}1A" -j ACCEPT`)],
  foreign: [`-A INPUT -m comment --comment "${CLEAR}" -j ACCEPT`],
  settings: [`set net.ipv4.ip_forward = 1 (it is ${CSI}0)`],
  warnings: [`the host said ${CLEAR}`],
})
const failed = (host: string): HostDone => ({ kind: 'host-done', host, outcome: 'failed', detail: `iptables-restore: line 3 failed${CLEAR}${CSI}` })

describe('host text in the text output modes', () => {
  afterEach(() => vi.restoreAllMocks())

  it('the plain reporter shows escape sequences, never writes them', () => {
    const lines: string[] = []
    const reporter = new PlainReporter((l) => lines.push(l), 'audited')
    const results = [forged('web01'), failed('web02')]
    results.forEach((r) => reporter.event(r))
    reporter.finish(results)
    const text = lines.join('\n')
    expect(text).not.toMatch(RAW_CONTROL)
    expect(text).toContain('--comment "x\\x1b[2Jy\\x9b1A"')
    expect(text).toContain('web02: failed: iptables-restore: line 3 failed\\x1b[2J\\x9b')
  })

  it('the terminal reporter shows them too, in its lines and in a failed host’s reason', async () => {
    const shown: string[] = []
    // listr2 writes a task's error itself.
    for (const stream of [process.stdout, process.stderr]) vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => (shown.push(String(chunk)), true))
    const lines: string[] = []
    const reporter = new ListrReporter(
      ['web01', 'web02'].map((name) => ({ name, tasks: [] })),
      (l) => lines.push(l),
      'audited',
      { rows: 24 },
    )
    const results = [forged('web01'), failed('web02')]
    for (const r of results) {
      reporter.event({ kind: 'host-start', host: r.host })
      reporter.event(r)
    }
    await reporter.finish(results)
    vi.restoreAllMocks()
    expect(lines.join('\n')).toContain('--comment "x\\x1b[2Jy\\x9b1A"')
    expect(lines.join('\n')).not.toMatch(RAW_CONTROL)
    const listr = shown.join('')
    expect(listr).toContain('line 3 failed\\x1b[2J\\x9b')
    // listr2 colours its own output; none of the host's sequences get through.
    expect(listr).not.toContain(CLEAR)
    expect(listr).not.toContain(CSI)
  })

  it('the preview before the yes/no shows them', () => {
    const text = previewText([{ ...forged('web01'), outcome: 'changed' }, failed('web02')], Infinity).lines.join('\n')
    expect(text).not.toMatch(RAW_CONTROL)
    expect(text).toContain('x\\x1b[2Jy\\x9b1A')
  })

  it('fleet history shows them in a note and a reason', () => {
    const line = formatEntry({ id: '20261126T013000.123Z-9f3a', time: 't', action: 'apply', status: 'confirmed', note: `n${CLEAR}`, by: `me${CSI}`, reason: `r\x1b]52;c;eA==\x07`, hasSaved: true })
    expect(line).not.toMatch(RAW_CONTROL)
    expect(line).toContain('n\\x1b[2J  by me\\x9b')
  })

  it('an error line on stderr shows them', () => {
    const err: string[] = []
    const io = { out: () => {}, err: (t: string) => err.push(t), isTTY: false, env: {} }
    reportFailure(new Error(`unexpected answer ${CLEAR}${CSI}`), io, { command: 'audit', json: false })
    expect(err.join('\n')).not.toMatch(RAW_CONTROL)
    expect(err.join('\n')).toContain('unexpected answer \\x1b[2J\\x9b')
  })

  it('--json keeps host text exact, every control character escaped (C0 by JSON itself, DEL and C1 by fleet)', () => {
    let text = ''
    new JsonReporter((t) => (text = t), 'audit').finish([forged('web01'), failed('web02')])
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/)
    expect(text).toContain('\\u001b[2J')
    expect(text).toContain('\\u009b1A')
    const document = JSON.parse(text)
    expect(document.hosts[0].diff[0].line).toBe(`-A INPUT -m comment --comment "x${CLEAR}y${CSI}1A" -j ACCEPT`)
    expect(document.hosts[1].detail).toBe(failed('web02').detail)
  })
})

describe('jsonText', () => {
  it('escapes what JSON.stringify leaves raw (DEL, C1, reordering characters) and parses back exact', () => {
    const value = { line: 'x\x7f\x9b2J \u202eDROP\u2066 \u2028end \x1b' }
    const text = jsonText(value)
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/)
    expect(JSON.parse(text)).toEqual(value)
  })
})
