// The script that makes a change on a host: lock, record, save, test, arm the timer, load, make
// the host settings, and print what is live for verification.
import type { Change } from '../plan/change.ts'
import { quote } from '../shell/quote.ts'
import { breakTable, faultIs, hostHook, orFail, type Fault } from './fault.ts'
import {
  armTimer, completeTables, EXIT_CONFLICT, EXIT_NO_WRITE, EXIT_RESTORE_FAILED, extendLock, LIVE_SUM, prelude, prune, recordChange, settingRecord, takeLock, XTABLES_WAIT_SEC,
} from './host-state.ts'
import { newMarks, section } from './sections.ts'
import { documentsOf, encoded, oneLine, type ReadStep } from './step.ts'

export interface ChangeSettings {
  readonly changeId: string
  // Seconds the host's timer waits for the change to be confirmed (or, without confirmation, for
  // fleet to finish it) before it restores the saved rulesets.
  readonly confirmSec: number
  // Confirmed over a fresh SSH connection, the proof that the new rulesets still admit the
  // operator; false (--no-confirm): fleet finishes the change over the connection that made it.
  readonly confirmFresh: boolean
  readonly keep: number
  // Who is changing the host, for the lock and the history ("alice@laptop").
  readonly by: string
  // The live rulesets' checksum when they were read: if it moved since, another run got there first.
  readonly liveSum: string
  // The longest a change script can run (the remote timeout): the lock expires after it.
  readonly lockTtlSec: number
  // FLEET_FAULT (tests only).
  readonly fault?: Fault
}

// How long the lock outlives the timer's deadline (the timer frees it when it acts).
const LOCK_BEYOND_TIMER_SEC = 30

// Every line of a document that has to reach the host as data, encoded; faults break tables here.
function loadedDocuments(change: Change, fault: Fault | undefined): { v4: string; v6?: string } {
  const table = fault?.kind === 'fail' && fault.step.startsWith('load-') ? fault.step.slice('load-'.length) : undefined
  return {
    v4: table ? breakTable(change.document, table) : change.document,
    ...(change.document6 !== undefined && { v6: fault?.kind === 'fail' && fault.step === 'load6' ? breakTable(change.document6, 'filter') : change.document6 }),
  }
}

// Locks the host, records the change, saves the live rulesets, checks the new ones with --test,
// arms the timer that undoes them unless confirmed (and stops if it cannot), loads each in one
// restore, makes the host settings, and prints the result for verification. iptables-restore
// commits table by table, so a load that fails part way, or a host setting that cannot be made,
// puts the saved rulesets back (and says whether that worked): the change is all or nothing.
// Without confirmation the timer is armed all the same: fleet verifies and finishes the change
// over this connection (finishStep), and a fleet that dies or loses the host before it does never
// leaves a change that nobody verified nor recorded.
export function changeStep(change: Change, s: ChangeSettings): ReadStep {
  const marks = newMarks()
  const f = s.fault
  const docs = loadedDocuments(change, f)
  const v6 = docs.v6 !== undefined
  const restoreFailed = `the host's timer stays armed and tries again within ${s.confirmSec}s`
  const load = (tool: string, file: string, what: string) =>
    `if ! err=$(${tool} -w ${XTABLES_WAIT_SEC} "${file}" 2>&1); then fleet_undo "${tool} rejected the ${what} part way ($(printf '%s' "$err" | grep -v '^Try ' | tr '\\n' ' '))"; fi`
  const loads = [
    hostHook(f, 'load-raw'),
    load('iptables-restore', '$S/applied/$ID.v4', 'ruleset'),
    ...(v6 ? [hostHook(f, 'load6'), load('ip6tables-restore', '$S/applied/$ID.v6', 'IPv6 ruleset')] : []),
  ]
  // Each setting's value before the change is kept, whether or not the change makes it: the undo
  // sets back what it changed, and a rollback finds the value every setting had at this change.
  const settings = [
    hostHook(f, 'settings'),
    ...change.commands.map(
      (c) =>
        `v=$(${c.check}) || fleet_undo ${quote(`cannot read "${c.title}" before changing it`)}
{ printf '%s\\n' "$v" > ${settingRecord(c)}; } 2>/dev/null || fleet_undo ${quote(`cannot keep the value of "${c.title}" before changing it (is /var/lib/fleet full, or read-only?)`)}
[ "$v" = ${quote(c.want)} ] || ${orFail(f, 'settings', c.run)} || fleet_undo ${quote(`failed: ${c.title}`)}`,
    ),
  ]
  const lines = [
    'set -u',
    'umask 077',
    // If the operator's connection drops mid-way, finish rather than stop half done; the timer,
    // armed before anything changes, undoes a change nobody confirms.
    "trap '' HUP PIPE",
    prelude(s.changeId, change),
    `mkdir -p "$S/history" "$S/saved" "$S/applied" && fleet_busy || { echo "cannot write in $S (is /var/lib/fleet full, or read-only?); nothing changed" >&2; exit ${EXIT_NO_WRITE}; }`,
    `fleet_undo() {
  if fleet_restore_saved; then fleet_fail 12 "$1; the previous ruleset was restored$(fleet_kept_note)"; fi
  echo "$1, and restoring the previous ruleset failed: ${restoreFailed}" >&2
  exit ${EXIT_RESTORE_FAILED}
}`,
    hostHook(f, 'lock'),
    faultIs(f, 'lock', 'fail') ? `echo 'cannot take the lock (FLEET_FAULT); nothing changed' >&2; exit ${EXIT_NO_WRITE}` : '',
    takeLock(s.lockTtlSec, s.by),
    `[ "$(${LIVE_SUM})" = ${quote(s.liveSum)} ] || { echo 'the ruleset changed since fleet read it (another run or a hand edit); nothing changed, run again' >&2; fleet_release; exit ${EXIT_CONFLICT}; }`,
    recordChange(change.action, oneLine(change.note), s.by),
    // fleet gave the change up before the host ran this script (its connection was lost, and an undo
    // found no record): it must not be made now that nobody waits for it.
    `[ ! -e "$S/abandoned.$ID" ] || fleet_fail ${EXIT_NO_WRITE} 'fleet had given this change up before the host ran it; nothing changed'`,
    prune(s.keep),
    hostHook(f, 'save'),
    `${orFail(f, 'save', 'out=$(iptables-save)')} && { printf '%s\\n' "$out" > "$S/saved/$ID.v4"; } 2>/dev/null && ${completeTables('"$S/saved/$ID.v4"')} && ${encoded(docs.v4)} > "$S/applied/$ID.v4" || fleet_fail ${EXIT_NO_WRITE} 'cannot save the live ruleset (is /var/lib/fleet full, or read-only?); nothing changed'`,
    ...(v6
      ? [
          `out=$(ip6tables-save) && { printf '%s\\n' "$out" > "$S/saved/$ID.v6"; } 2>/dev/null && ${completeTables('"$S/saved/$ID.v6"')} && ${encoded(docs.v6!)} > "$S/applied/$ID.v6" || fleet_fail ${EXIT_NO_WRITE} 'cannot save the live IPv6 ruleset (is /var/lib/fleet full, or read-only?); nothing changed'`,
        ]
      : []),
    // The undo restores the saved rulesets: one that iptables-restore would not take back (a rule
    // comment with a line break, which iptables-save prints raw) means no undo, so no change.
    `iptables-restore --test "$S/saved/$ID.v4" || fleet_fail 11 ${quote(unrestorable('iptables'))}`,
    ...(v6 ? [`ip6tables-restore --test "$S/saved/$ID.v6" || fleet_fail 11 ${quote(unrestorable('ip6tables'))}`] : []),
    hostHook(f, 'test'),
    `${orFail(f, 'test', 'iptables-restore --test "$S/applied/$ID.v4"')} || fleet_fail 11 'iptables-restore --test rejected the ruleset; nothing changed'`,
    ...(v6 ? [`ip6tables-restore --test "$S/applied/$ID.v6" || fleet_fail 11 'ip6tables-restore --test rejected the IPv6 ruleset; nothing changed'`] : []),
    armTimer(s.changeId, s.confirmSec, s.confirmFresh ? 'not confirmed' : 'fleet did not finish the change (killed, or cut off from the host)', s.lockTtlSec, change),
    extendLock(s.confirmSec + LOCK_BEYOND_TIMER_SEC),
    hostHook(f, 'arm'),
    `${orFail(f, 'arm', 'fleet_arm')} && fleet_extend || fleet_fail 14 'cannot arm the timer that undoes an unconfirmed change (is /var/lib/fleet full, or read-only?); nothing changed'`,
    // An apply loads the rules before the settings they filter for (forwarding goes on once FORWARD
    // has its rules); a rollback sets settings back first (forwarding goes off before those rules go).
    ...(change.action === 'rollback' ? [...settings, ...loads] : [...loads, ...settings]),
    section(marks, 'after', 'iptables-save'),
    section(marks, 'saved', 'cat "$S/saved/$ID.v4"'),
    ...(v6 ? [section(marks, 'after6', 'ip6tables-save'), section(marks, 'saved6', 'cat "$S/saved/$ID.v6"')] : []),
  ].filter((l) => l !== '')
  const until = s.confirmFresh ? 'confirmed' : 'fleet finishes the change'
  return { title: `lock, save the live ruleset, check and load the new one, arm a ${s.confirmSec}s timer that restores it unless ${until}`, script: lines.join('\n'), documents: documentsOf(change), marks }
}

const unrestorable = (tool: string) =>
  `the live ${tool === 'iptables' ? '' : 'IPv6 '}ruleset would not load back as ${tool}-save prints it (a rule comment with a line break?), so no undo could restore it; nothing changed. Find the rule with \`${tool}-save\`, delete it, and run again`
