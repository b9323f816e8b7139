// What a rollback does with host settings: the value before the changes it undoes is the earliest
// record of each setting; the role's undo sets it back, reading that value as data; settings the
// role cannot set back are named. The host side runs for real (dash, a scratch state directory).
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { settingHolds } from '../../src/apply/host-facts.ts'
import type { HistoryEntry } from '../../src/history/entries.ts'
import { leftAsTheyAre, setBack, setBackCommand, undoneChanges, valuesBefore } from '../../src/history/set-back.ts'
import { settingKey } from '../../src/remote/host-state.ts'
import { parseSettingRecords, settingRecordsStep, type SettingRecord } from '../../src/remote/setting-records.ts'
import type { CommandTask } from '../../src/roles/types.ts'
import { hostShell, scratchState } from '../helpers/host-shell.ts'

const A = '20261126T000000.000Z-aaaa'
const B = '20261126T000001.000Z-bbbb'
const C = '20261125T000000.000Z-cccc'
const K1 = '0123456789abcdef'
const K2 = 'fedcba9876543210'
const rec = (id: string, key: string, value: string): SettingRecord => ({ id, key, value, file: `/var/lib/fleet/saved/${id}.setting-${key}` })
const entry = (id: string, seq: number): HistoryEntry => ({ id, seq, time: '', action: 'apply', status: 'confirmed', note: '', by: '', hasSaved: true })
const setting = (title: string, check: string, undo?: string): CommandTask => ({ kind: 'command', title, check, want: '1', run: 'true', ...(undo !== undefined && { undo }) })

describe('the changes a rollback undoes', () => {
  it('are the target and every later one, in the host\'s order', () => {
    const entries = [entry(B, 1), entry(A, 2), entry(C, 3)]
    expect(undoneChanges(entries, entries[1]!)).toEqual([A, C])
    expect(undoneChanges(entries, entries[2]!)).toEqual([C])
  })
})

describe('the value of a setting before the changes a rollback undoes', () => {
  it('is the record of the earliest change (by the host\'s order, not the ids) that kept one', () => {
    // C's id sorts first (an operator's clock behind), but the host ran it last.
    const order = [B, A, C]
    const before = valuesBefore([rec(C, K1, 'c'), rec(A, K1, 'a'), rec(B, K2, 'b2'), rec(A, K2, 'a2')], order)
    expect(before.map((r) => [r.key, r.value])).toEqual([[K2, 'b2'], [K1, 'a']])
  })

  it('ignores records of changes it does not undo', () => {
    expect(valuesBefore([rec(A, K1, 'a')], [B])).toEqual([])
  })
})

describe('the settings a rollback sets back', () => {
  const forward = setting('set net.ipv4.ip_forward = 1', 'sysctl -n net.ipv4.ip_forward', 'tee /proc/sys/net/ipv4/ip_forward')
  const martians = setting('log martians', 'sysctl -n net.ipv4.conf.all.log_martians')
  const gone = rec(A, 'ffffffffffffffff', '7')

  it('are those the role gives an undo for, checked and set back like any setting; the others are named', () => {
    const result = setBack([rec(A, settingKey(martians), '0'), gone, rec(A, settingKey(forward), '0')], [forward, martians], settingKey)
    expect(result.commands).toEqual([
      {
        kind: 'command',
        title: 'set back: set net.ipv4.ip_forward = 1',
        check: 'sysctl -n net.ipv4.ip_forward',
        want: '0',
        run: "printf '%s\\n' 0 | { tee /proc/sys/net/ipv4/ip_forward; } >/dev/null",
        undo: 'tee /proc/sys/net/ipv4/ip_forward',
      },
    ])
    expect(result.noUndo).toEqual(['log martians'])
    expect(result.notInRole).toEqual([gone.file])
    expect(leftAsTheyAre(result)).toBe(
      `host settings the role keeps as changed (undo: 'keep') stay as they are: log martians; host settings the role no longer has stay as they are (their values before are in ${gone.file})`,
    )
  })

  it('are none, and nothing is named, when nothing was recorded', () => {
    const result = setBack([], [forward, martians], settingKey)
    expect(result).toEqual({ commands: [], noUndo: [], notInRole: [] })
    expect(leftAsTheyAre(result)).toBe('')
  })
})

// The facts step's verdict must be the change script's ([ "$(check)" = want ]): a rollback whose
// settings already hold their old values changes nothing, and one whose do not is no 'unchanged'.
describe('whether a setting holds a value read from the host', () => {
  it.each([
    ['0', '0', true],
    ['', '', true],
    ['a\nb', 'a\nb', true],
    [' 32768\t60999 ', ' 32768\t60999 ', true],
    ['1\n', '1', true],
    ['a\nb', 'a', false],
    ['x', ' x', false],
    ['1', '', false],
  ])('check printed %j, want %j: %s', (printed, want, holds) => {
    expect(settingHolds(printed, want)).toBe(holds)
  })
})

// A record as the change script writes it (v=$(check); printf '%s\n' "$v" > record), read back by
// the rollback's read step, and handed to the undo by the rollback's command: byte for byte.
describe('a recorded value, from the host and back', () => {
  const values = [
    ['a number', '0'],
    ['an empty value', ''],
    ['several lines, a tab, blanks around', ' 32768\t60999\nsecond line \n\nthird'],
    ['shell text', '$(touch "$S/pwned"); `touch "$S/pwned2"`\'; touch "$S/pwned3" #'],
    ['a line like a section marker', '@@fleet 0000 x/0123456789abcdef\n@@fleet-status 0000 x 0'],
  ]

  it.each(values)('%s reaches the undo as the change kept it, and runs nothing', (_what, value) => {
    const dir = scratchState()
    const made = hostShell(dir, `S=/var/lib/fleet\nv=$(printf '%s\\n' ${quoteForTest(value)}); printf '%s\\n' "$v" > "$S/saved/${A}.setting-${K1}"`)
    expect(made.code).toBe(0)
    const kept = readFileSync(path.join(dir, `saved/${A}.setting-${K1}`), 'utf8')

    const step = settingRecordsStep([A])
    const read = hostShell(dir, step.script)
    expect(read.code).toBe(0)
    const records = parseSettingRecords(read.out, step, [A])
    expect(records.map((r) => r.key)).toEqual([K1])
    expect(`${records[0]!.value}\n`).toBe(kept)

    const back = hostShell(dir, setBackCommand(`cat > ${dir}/undone`, records[0]!.value))
    expect(back.code).toBe(0)
    expect(readFileSync(path.join(dir, 'undone'), 'utf8')).toBe(kept)
    expect(['pwned', 'pwned2', 'pwned3'].some((f) => existsSync(path.join(dir, f)))).toBe(false)
  })

  it('is read only from fleet\'s own record names, and only for the changes asked about', () => {
    const dir = scratchState()
    writeFileSync(path.join(dir, `saved/${A}.setting-${K1}`), '1\n')
    writeFileSync(path.join(dir, `saved/${A}.setting-nothex0123456789`), '2\n')
    writeFileSync(path.join(dir, `saved/${A}.setting-${K2} x`), '3\n')
    writeFileSync(path.join(dir, `saved/${B}.setting-${K2}`), '4\n')
    const step = settingRecordsStep([A, C])
    const records = parseSettingRecords(hostShell(dir, step.script).out, step, [A, C])
    expect(records.map((r) => [r.id, r.key, r.value])).toEqual([[A, K1, '1']])
  })
})

// POSIX single quotes, written out here so the test does not lean on the quoting it checks.
function quoteForTest(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`
}
