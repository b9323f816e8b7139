// The shell scripts fleet runs on a host, as pure functions of the change. The same text is what
// `--dry-run` prints and what the SSH transport sends (on stdin, to `sh -s`), so the dry run shows
// exactly what would run. Scripts are POSIX sh: Debian's /bin/sh is dash.
//
// Nothing read from a host is ever part of a script's code: a ruleset document (which carries
// preserved chains and, on rollback, a saved ruleset: host-controlled text, e.g. a rule comment
// with raw newlines) travels base64-encoded, which no content can end early, and ids read from a
// host are validated (CHANGE_ID) and quoted.
import type { Change } from '../plan/change.ts'
import type { CommandTask } from '../roles/types.ts'
import { quote } from '../shell/quote.ts'
import { breakTable, faultIs, hostHook, orFail, type Fault } from './fault.ts'
import {
  armTimer, changeInProgress, completeTables, EXIT_CONFLICT, EXIT_NO_WRITE, EXIT_RESTORE_FAILED, EXIT_SETTLED, EXIT_STILL_RUNNING, EXIT_TOO_LATE, extendLock, LIVE_SUM, prelude, prune, settingRecord, XTABLES_WAIT_SEC,
  recordChange, STATE_DIR, takeLock,
} from './host-state.ts'
import { newMarks, section, sectionStart, type Marks } from './sections.ts'

export interface Step {
  readonly title: string
  readonly script: string
  // The documents the script carries base64-encoded, for people to read (the dry run prints them).
  readonly documents?: readonly { readonly name: string; readonly text: string }[]
}

// A step whose output is read as sections (sections.ts): the marks to read them with.
export interface ReadStep extends Step {
  readonly marks: Marks
}

// `document` as a command's input: base64 in single quotes (its alphabet has no quote), decoded on
// the host.
function encoded(document: string): string {
  const text = Buffer.from(document.endsWith('\n') ? document : `${document}\n`).toString('base64')
  return `printf '%s' '${text.replace(/.{1,76}/g, '$&\n').trimEnd()}' | base64 -d`
}

// The kernel's count of each chain's rules against the one fleet read (normal-form.ts,
// chainCounts): `-S CHAIN N` prints rule N, or nothing past the last. Prints each chain whose count
// differs.
export function ruleCountStep(tool: 'iptables' | 'ip6tables', counts: readonly { table: string; chain: string; rules: number }[]): Step {
  const rule = (c: { table: string; chain: string }, n: number) => `[ -n "$(${tool} -t ${quote(c.table)} -S ${quote(c.chain)} ${n} 2>/dev/null)" ]`
  return {
    title: `count the rules of each chain (${tool})`,
    script: counts
      .map((c) => `{ ${c.rules > 0 ? `${rule(c, c.rules)} && ` : ''}! ${rule(c, c.rules + 1)}; } || echo ${quote(`${c.table}/${c.chain}`)}`)
      .join('\n'),
  }
}

// What else filters traffic (src/plan/other-firewalls.ts): the other iptables backend's tables,
// native nftables, and whether nftables.service may flush the persisted rulesets at boot.
const otherFirewallSections = (marks: Marks) => [
  'o=legacy; case "$(iptables -V 2>&1)" in *legacy*) o=nft;; esac',
  section(marks, 'other4', 'iptables-$o-save 2>/dev/null'),
  section(marks, 'other6', 'ip6tables-$o-save 2>/dev/null'),
  section(marks, 'nft', '! command -v nft >/dev/null || nft -j -t list ruleset 2>/dev/null'),
  section(
    marks,
    'boot',
    `[ ! -d /run/systemd/system ] || for u in nftables netfilter-persistent; do echo "$u=$(systemctl is-enabled $u.service 2>/dev/null)"; done
! grep -Eqs '^[[:space:]]*flush[[:space:]]+ruleset' /etc/nftables.conf || echo flush=yes`,
  ),
]

// Read-only: the live rulesets, the change's rulesets as this host's own iptables normalises them
// (loaded into a throwaway network namespace, so nothing live is touched), each host setting, and
// any change in progress.
export function factsStep(change: Change, fault?: Fault): ReadStep {
  const marks = newMarks()
  const parts = [
    hostHook(fault, 'read'),
    faultIs(fault, 'read', 'fail') ? `echo 'cannot read the rulesets (FLEET_FAULT)' >&2; exit 1` : '',
    section(marks, 'backend', 'iptables -V 2>&1'),
    section(marks, 'live', 'iptables-save 2>&1'),
    section(marks, 'live-sum', LIVE_SUM),
    section(marks, 'desired', `${encoded(change.document)} | unshare --net sh -c 'iptables-restore 2>&1 && iptables-save 2>&1'`),
    ...(change.document6 !== undefined
      ? [
          section(marks, 'ipv6', '[ -e /proc/net/if_inet6 ] && echo yes || echo no'),
          section(marks, 'live6', 'ip6tables-save 2>&1'),
          section(marks, 'desired6', `${encoded(change.document6)} | unshare --net sh -c 'ip6tables-restore 2>&1 && ip6tables-save 2>&1'`),
        ]
      : []),
    ...change.commands.map((c, i) => section(marks, `check-${i}`, `${c.check} 2>&1`)),
    ...otherFirewallSections(marks),
    // A change another run has in progress (its timer may yet undo what is live).
    section(marks, 'pending', changeInProgress()),
  ].filter((p) => p !== '')
  return { title: 'read the live rulesets and the new ones in their normal form', script: parts.join('\n'), documents: documentsOf(change), marks }
}

function documentsOf(change: Change): Step['documents'] {
  return [{ name: 'ruleset (iptables-restore)', text: change.document }, ...(change.document6 !== undefined ? [{ name: 'IPv6 ruleset (ip6tables-restore)', text: change.document6 }] : [])]
}

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
  // Each setting's value before the change is kept for the undo, before the setting is made.
  const settings = [
    hostHook(f, 'settings'),
    ...change.commands.map(
      (c) =>
        `v=$(${c.check}) || fleet_undo ${quote(`cannot read "${c.title}" before changing it`)}
[ "$v" = ${quote(c.want)} ] || { printf '%s\\n' "$v" > ${settingRecord(c)} || fleet_undo ${quote(`cannot keep the value of "${c.title}" before changing it (is /var/lib/fleet full, or read-only?)`)}; ${orFail(f, 'settings', c.run)} || fleet_undo ${quote(`failed: ${c.title}`)}; }`,
    ),
  ]
  const lines = [
    'set -u',
    'umask 077',
    // If the operator's connection drops mid-way, finish rather than stop half done; the timer,
    // armed before anything changes, undoes a change nobody confirms.
    "trap '' HUP PIPE",
    prelude(s.changeId, change.commands),
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
    armTimer(s.changeId, s.confirmSec, s.confirmFresh ? 'not confirmed' : 'fleet did not finish the change (killed, or cut off from the host)', s.lockTtlSec, change.commands),
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

// History entries are one field per line.
function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ')
}

// Boot files (netfilter-persistent restores them at boot): written beside the live ones first,
// checked, and renamed into place only once the change is final, so a reboot never brings back a
// ruleset that was not confirmed, and a change is never confirmed with boot files it could not
// write.
// The boot files in place before the change are kept as hard links (no space needed) until the new
// ones are all in place, so a rename that fails (a bind-mounted file, a file system gone
// read-only) puts every boot file back as it was rather than leave them half new.
function persistPrepare(change: Change, f: Fault | undefined): string {
  const write = (save: string, file: string) =>
    `out=$(${save}) && { printf '%s\\n' "$out" > ${file}.fleet-new; } 2>/dev/null && { [ ! -e ${file} ] || ln -f ${file} ${file}.fleet-old; }`
  const writes = bootFiles(change).map((file, i) => write(i === 0 ? 'iptables-save' : 'ip6tables-save', file))
  return [
    hostHook(f, 'persist'),
    `fleet_persist_back() { ${bootFiles(change).map((file) => `if [ -e ${file}.fleet-old ]; then mv -f ${file}.fleet-old ${file}; else rm -f ${file}; fi`).join('; ')}; rm -f /etc/iptables/rules.v?.fleet-new; }`,
    `{ ${orFail(f, 'persist', 'mkdir -p /etc/iptables')} && ${writes.join(' && ')}; } || { rm -f /etc/iptables/rules.v?.fleet-new /etc/iptables/rules.v?.fleet-old; fleet_persist_failed; }`,
  ].join('\n')
}

const bootFiles = (change: Change) => ['/etc/iptables/rules.v4', ...(change.document6 !== undefined ? ['/etc/iptables/rules.v6'] : [])]

// The renames into place, checked; `orElse` runs when one fails.
function persistCommit(change: Change, orElse: string): string {
  return `{ ${bootFiles(change).map((file) => `mv ${file}.fleet-new ${file}`).join(' && ')}; } && rm -f /etc/iptables/rules.v?.fleet-old || { fleet_persist_back; ${orElse}; }`
}

const CANNOT_PERSIST = 'cannot write the boot files in /etc/iptables (is it full, or read-only?)'
const CANNOT_REPLACE = 'cannot put the new boot files in place in /etc/iptables (is one of them mounted over, or read-only?); the boot files were left as they were'

// After the confirmation claimed the change: the boot files are back as they were, so the live
// rulesets go back too.
function persistUndo(): string {
  return `fleet_persist_undo() {
  if fleet_restore_saved; then r="${CANNOT_REPLACE}; the previous ruleset was restored$(fleet_kept_note)"; fleet_status rolled-back "$r"; fleet_release; echo "$r" >&2; exit ${EXIT_NO_WRITE}; fi
  fleet_status failed '${CANNOT_REPLACE}, and restoring the previous ruleset failed'; fleet_release
  echo '${CANNOT_REPLACE}, and restoring the previous ruleset failed: the host may hold parts of both' >&2; exit ${EXIT_RESTORE_FAILED}
}`
}

// Run over a fresh SSH connection: proves the new ruleset still admits the operator. Whoever
// renames armed/<id> first, this, the timer or an undo, decides.
export function confirmStep(changeId: string, change: Change, fault?: Fault, confirmSec = 0): Step {
  return {
    title: `confirm over a fresh SSH connection${change.host.persist ? ', then persist the rulesets for boot' : ''}`,
    script: settleChange(changeId, change, 'confirmed', fault, confirmSec),
  }
}

// Without confirmation (--no-confirm), over the connection that made the change, once fleet has
// verified the loaded rulesets: claims the change from the timer like a confirmation, persists
// the rulesets (if asked) and frees the host. Boot files that cannot be written leave the claim to
// the timer, and fleet undoes the change.
export function finishStep(changeId: string, change: Change, fault?: Fault, confirmSec = 0): Step {
  return {
    title: `${change.host.persist ? 'persist the rulesets for boot, ' : ''}record the change and free the host`,
    script: settleChange(changeId, change, 'applied', fault, confirmSec),
  }
}

// The boot files are prepared before the claim and renamed into place after it: a change that
// loses the race to the timer never reaches them.
function settleChange(changeId: string, change: Change, status: 'confirmed' | 'applied', fault: Fault | undefined, confirmSec: number): string {
  const persist = change.host.persist
  const what = status === 'confirmed' ? 'not confirmed' : 'the change is not finished'
  return [
    "trap '' HUP PIPE",
    prelude(changeId, change.commands),
    'fleet_busy',
    status === 'confirmed' ? hostHook(fault, 'confirm') : '',
    ...(persist ? [`fleet_persist_failed() { echo '${CANNOT_PERSIST}; ${what}' >&2; exit ${EXIT_NO_WRITE}; }`, persistUndo(), persistPrepare(change, fault)] : []),
    // Claimed, the change is this script's to finish: timeout(1) must not stop it half way.
    "trap '' TERM INT",
    `fleet_claim done || { rm -f /etc/iptables/rules.v?.fleet-new /etc/iptables/rules.v?.fleet-old; echo 'too late: the timer has already restored the previous ruleset' >&2; exit ${EXIT_TOO_LATE}; }`,
    'fleet_stop_timer',
    // The timer is stopped: a boot file that cannot be put in place is undone here, now.
    ...(persist ? [persistCommit(change, 'fleet_persist_undo')] : []),
    `fleet_status ${status}`,
    hostHook(fault, 'release'),
    `${orFail(fault, 'release', 'fleet_release')} || echo 'could not free the lock; it expires by itself' >&2`,
    hostHook(fault, 'reply', confirmSec),
  ].filter((l) => l !== '').join('\n')
}

// Undo change <id> now, rather than wait for the timer (verification failed, confirmation could
// not be made, an answer was lost). It waits up to `waitSec` for any script of the change still
// running (a load that goes on after the connection dropped) and undoes nothing while one does
// (exit EXIT_STILL_RUNNING); then, as a script of the change itself (the timer and other undos wait
// for it) that timeout(1) cannot stop half way, claims the change like the confirmation would;
// restores and checks the result; and only then stops the timer. If the restore fails it gives the claim back,
// so the timer tries again. If the change had already settled (confirmed, or undone by the timer)
// it undoes nothing and prints the host's record instead (exit EXIT_SETTLED).
export function restoreNowStep(changeId: string, settings: readonly CommandTask[], reason: string, waitSec: number, fault?: Fault): ReadStep {
  const marks = newMarks()
  const restore = orFail(fault, 'restore', 'fleet_restore_saved')
  const restored = (exit: string) => `{ fleet_status rolled-back ${quote(oneLine(reason))}"$(fleet_kept_note)"; fleet_release; ${sectionStart(marks, 'kept')}; fleet_kept_note; ${exit}; }`
  return {
    title: 'restore the ruleset saved before the change',
    script: `trap '' HUP PIPE
${prelude(changeId, settings)}
fleet_wait_idle ${waitSec} || { echo 'a script of the change still runs on the host (a slow load, or its confirmation?); nothing was undone yet' >&2; exit ${EXIT_STILL_RUNNING}; }
fleet_busy
trap '' TERM INT
fleet_settled() { ${sectionStart(marks, 'settled')}; printf 'status=%s\\nreason=%s\\n' "$(fleet_field status)" "$(fleet_field reason)"; exit ${EXIT_SETTLED}; }
if fleet_claim now; then
  if ${restore}; then fleet_stop_timer; ${restored('exit 0')}; fi
  mv "$S/armed/$ID.now" "$S/armed/$ID"
  echo "restoring the previous ruleset failed; the host's timer stays armed and tries again at its deadline" >&2; exit ${EXIT_RESTORE_FAILED}
fi
fleet_wait "$S/armed/$ID.fired" 20
[ "$(fleet_field status)" = pending ] && [ -f "$S/saved/$ID.v4" ] && ! ls "$S/armed/$ID".* >/dev/null 2>&1 || fleet_settled
if ${restore}; then ${restored('exit 0')}; fi
fleet_status failed ${quote(`${oneLine(reason)}, and restoring the previous ruleset failed`)}; fleet_release
echo 'restoring the previous ruleset failed: the host may hold parts of both' >&2; exit ${EXIT_RESTORE_FAILED}`,
    marks,
  }
}

// Every history entry, for `fleet history` and for choosing what a rollback restores.
export function historyStep(): Step {
  return {
    title: 'read the change history',
    script: `for f in ${STATE_DIR}/history/*; do
  [ -f "$f" ] || continue
  echo '@@fleet entry'; cat "$f"; echo; [ ! -f "${STATE_DIR}/saved/\${f##*/}.v4" ] || echo has_saved=yes
done`,
  }
}

// `changeId` comes from a host's history: callers validate it (CHANGE_ID); it is quoted anyway.
export function readSavedStep(changeId: string): ReadStep {
  const marks = newMarks()
  const file = (ext: string) => quote(`${STATE_DIR}/saved/${changeId}.${ext}`)
  return {
    title: `read the rulesets saved before ${changeId}`,
    script: [section(marks, 'saved', `cat ${file('v4')}`), `[ ! -f ${file('v6')} ] || { ${section(marks, 'saved6', `cat ${file('v6')}`)}; }`].join('\n'),
    marks,
  }
}
