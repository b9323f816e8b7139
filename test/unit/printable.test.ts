// Host text (a rule's comment, a host's stderr, a history note) can hold terminal escape
// sequences; what the operator reads must show them, never let the terminal run them.
import { describe, expect, it } from 'vitest'
import { printable } from '../../src/report/printable.ts'

// C0 but newline and tab, DEL, C1.
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/

// The reading an operator would do: \xHH after an odd run of backslashes is that character.
function unprintable(text: string): string {
  return text.replace(/(\\*)x([0-9a-f]{2})/g, (_, slashes: string, hex: string) =>
    '\\'.repeat(slashes.length >> 1) + (slashes.length % 2 ? String.fromCharCode(parseInt(hex, 16)) : `x${hex}`),
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
