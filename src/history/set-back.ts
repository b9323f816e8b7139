// What a rollback does with the host settings: the changes it undoes (the target and every later
// one) each recorded, before making a setting, the value it had; the earliest record of a setting
// is its value before them all, and the role's undo sets it back. Pure.
import type { SettingRecord } from '../remote/setting-records.ts'
import type { CommandTask } from '../roles/types.ts'
import { quote } from '../shell/quote.ts'
import type { HistoryEntry } from './entries.ts'

// The changes a rollback to before `target` undoes, in the host's order (entries are sorted so).
export function undoneChanges(entries: readonly HistoryEntry[], target: HistoryEntry): string[] {
  return entries.slice(entries.indexOf(target)).map((e) => e.id)
}

// Per setting key, the record of the earliest change (by `order`, the host's) that recorded it.
export function valuesBefore(records: readonly SettingRecord[], order: readonly string[]): SettingRecord[] {
  const place = new Map(order.map((id, i) => [id, i]))
  const earliest = new Map<string, SettingRecord>()
  for (const r of records) {
    const seen = earliest.get(r.key)
    if (place.has(r.id) && (seen === undefined || place.get(r.id)! < place.get(seen.id)!)) earliest.set(r.key, r)
  }
  return [...earliest.values()].sort((a, b) => place.get(a.id)! - place.get(b.id)! || a.key.localeCompare(b.key))
}

// The value `value`, as the undo reads it (as a change kept it: one line per line, a final newline).
export function setBackCommand(undo: string, value: string): string {
  return `printf '%s\\n' ${quote(value)} | { ${undo}; } >/dev/null`
}

// A host setting a rollback sets back: made like any setting of a change (checked, its current
// value kept, `run` only when it differs), so the rollback can be undone in turn.
export function setBackTask(setting: CommandTask & { readonly undo: string }, value: string): CommandTask {
  return { kind: 'command', title: `set back: ${setting.title}`, check: setting.check, want: value, run: setBackCommand(setting.undo, value), undo: setting.undo }
}

export interface SetBack {
  readonly commands: readonly CommandTask[]
  // Recorded settings left as they are, for people: the role keeps them (undo: 'keep'), or no longer has them.
  readonly noUndo: readonly string[]
  readonly notInRole: readonly string[]
}

// `role`: the host settings of the host's role now, keyed as the host keyed its records. Settings
// are set back in the role's order.
export function setBack(before: readonly SettingRecord[], role: readonly CommandTask[], keyOf: (c: CommandTask) => string): SetBack {
  const recorded = new Map(before.map((r) => [r.key, r]))
  const known = new Set(role.map(keyOf))
  const inRole = role.flatMap((c) => {
    const r = recorded.get(keyOf(c))
    return r === undefined ? [] : [{ setting: c, value: r.value }]
  })
  return {
    commands: inRole.flatMap(({ setting, value }) => (setting.undo === undefined ? [] : [setBackTask({ ...setting, undo: setting.undo }, value)])),
    noUndo: inRole.filter(({ setting }) => setting.undo === undefined).map(({ setting }) => setting.title),
    notInRole: before.filter((r) => !known.has(r.key)).map((r) => r.file),
  }
}

// For the outcome's detail; empty when every recorded setting is set back.
export function leftAsTheyAre(s: Pick<SetBack, 'noUndo' | 'notInRole'>): string {
  return [
    ...(s.noUndo.length > 0 ? [`host settings the role keeps as changed (undo: 'keep') stay as they are: ${s.noUndo.join(', ')}`] : []),
    ...(s.notInRole.length > 0 ? [`host settings the role no longer has stay as they are (their values before are in ${s.notInRole.join(', ')})`] : []),
  ].join('; ')
}
