// Read-only: what the host recorded of its settings before each of some changes
// (saved/<id>.setting-<key>, written by the change script just before it made the setting), for a
// rollback to set them back.
//
// The ids come from the host's history: callers validate them (CHANGE_ID), and they are quoted
// anyway. A record's value is host text, printed as data in a section of its own; only file names
// whose key is fleet's (16 hex digits) are read.
import { STATE_DIR } from './host-state.ts'
import type { ReadStep } from './step.ts'
import { parseSections, newMarks } from './sections.ts'
import { quote } from '../shell/quote.ts'

export interface SettingRecord {
  // The change that recorded it, and the setting's key (settingKey: its check command's hash).
  readonly id: string
  readonly key: string
  // What the setting's check printed before that change, as the change kept it (trailing newlines
  // dropped, as the shell's $(...) drops them); may be empty or hold several lines.
  readonly value: string
  // Where the host keeps it, for people.
  readonly file: string
}

const KEY = /^[0-9a-f]{16}$/

export function settingRecordsStep(ids: readonly string[]): ReadStep {
  const marks = newMarks()
  // $(cat) gives back exactly the value the change kept ($v, printed with one newline).
  const each = (id: string) => `for f in "$S"/saved/${quote(`${id}.setting-`)}*; do
  k=\${f##*.setting-}
  case $k in *[!0-9a-f]*|'') continue ;; esac
  [ \${#k} -eq 16 ] && [ -f "$f" ] || continue
  echo "@@fleet ${marks.nonce} ${id}/$k"; v=$(cat "$f"); r=$?; printf '%s\\n' "$v"; echo "@@fleet-status ${marks.nonce} ${id}/$k $r"
done`
  return { title: 'read the host settings recorded before those changes', script: [`S=${STATE_DIR}`, ...ids.map(each), 'true'].join('\n'), marks }
}

// The records the step printed, in the order of `ids`; one that could not be read is left out.
export function parseSettingRecords(stdout: string, step: ReadStep, ids: readonly string[]): SettingRecord[] {
  const sections = parseSections(stdout, step.marks)
  return ids.flatMap((id) =>
    [...sections.text]
      .filter(([name]) => name.startsWith(`${id}/`) && sections.status.get(name) === 0)
      .map(([name, value]) => ({ id, key: name.slice(id.length + 1), value }))
      .filter((r) => KEY.test(r.key))
      .map((r) => ({ ...r, file: `${STATE_DIR}/saved/${id}.setting-${r.key}` })),
  )
}
