// The scripts that settle a change on a host: confirm it (or, without confirmation, finish it),
// persisting the rulesets for boot; or undo it now.
import type { Change } from '../plan/change.ts'
import { quote } from '../shell/quote.ts'
import { hostHook, orFail, type Fault } from './fault.ts'
import { EXIT_NO_WRITE, EXIT_RESTORE_FAILED, EXIT_SETTLED, EXIT_STILL_RUNNING, EXIT_TOO_LATE, prelude, XTABLES_WAIT_SEC, type Undoing } from './host-state.ts'
import { newMarks, sectionStart } from './sections.ts'
import { oneLine, type ReadStep, type Step } from './step.ts'

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
    prelude(changeId, change),
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
// The longest the timer takes once it has claimed the change: both restores, each waiting for the
// xtables lock, and the host settings.
export const TIMER_ACTS_WITHIN_SEC = 2 * XTABLES_WAIT_SEC + 30

export function restoreNowStep(changeId: string, change: Undoing, reason: string, waitSec: number, fault?: Fault): ReadStep {
  const marks = newMarks()
  const restore = orFail(fault, 'restore', 'fleet_restore_saved')
  const restored = (exit: string) =>
    `{ fleet_status rolled-back ${quote(oneLine(reason))}"$(fleet_kept_note)"; fleet_release; ${sectionStart(marks, 'kept')}; fleet_kept_note; echo; ${sectionStart(marks, 'unset')}; printf '%s' "\${fleet_unset:-}"; ${exit}; }`
  return {
    title: 'restore the ruleset saved before the change',
    script: `trap '' HUP PIPE
${prelude(changeId, change)}
fleet_wait_idle ${waitSec} || { echo 'a script of the change still runs on the host (a slow load, or its confirmation?); nothing was undone yet' >&2; exit ${EXIT_STILL_RUNNING}; }
trap '' TERM INT
fleet_settled() { ${sectionStart(marks, 'settled')}; printf 'status=%s\\nreason=%s\\n' "$(fleet_field status)" "$(fleet_field reason)"; exit ${EXIT_SETTLED}; }
# Only as a script of the change (the timer and other undos wait for it) does it claim the change;
# one that cannot say so (a full /var/lib/fleet) leaves the change to the timer, and reports.
if fleet_busy && fleet_claim now; then
  if ${restore}; then fleet_stop_timer; ${restored('exit 0')}; fi
  mv "$S/armed/$ID.now" "$S/armed/$ID"
  echo "restoring the previous ruleset failed; the host's timer stays armed and tries again at its deadline" >&2; exit ${EXIT_RESTORE_FAILED}
fi
fleet_wait "$S/armed/$ID.fired" ${TIMER_ACTS_WITHIN_SEC}
# Never recorded: the change script has not run. It may still arrive late (fleet lost the
# connection that carried it): word is left that it must not make the change, and the history is
# read once more, since a script that recorded it first goes on (each writes, then reads the other).
if [ ! -f "$S/history/$ID" ]; then { : > "$S/abandoned.$ID"; } 2>/dev/null; [ -f "$S/history/$ID" ] || fleet_settled; fi
[ "$(fleet_field status)" = pending ] && [ -f "$S/saved/$ID.v4" ] && ! ls "$S/armed/$ID".* >/dev/null 2>&1 || fleet_settled
if ${restore}; then ${restored('exit 0')}; fi
fleet_status failed ${quote(`${oneLine(reason)}, and restoring the previous ruleset failed`)}; fleet_release
echo 'restoring the previous ruleset failed: the host may hold parts of both' >&2; exit ${EXIT_RESTORE_FAILED}`,
    marks,
  }
}
