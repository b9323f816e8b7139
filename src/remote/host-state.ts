// fleet's state on a host, under /var/lib/fleet, and the shell that keeps it:
//   seq               the host's own change counter: history, pruning and rollback follow it, never
//                     the operator's clock (change ids are made on the operator's machine)
//   history/<id>      one entry per change: id, seq, time, action, status, what was applied, by whom
//   saved/<id>.v4     the ruleset that was live before change <id> (what a rollback restores)
//   saved/<id>.setting-<key>  the value a host setting of change <id> had before the change made it
//   applied/<id>.v4   the ruleset change <id> put in place
//   armed/<id>        present while change <id> waits for confirmation; its timer's script and pid beside it
//   busy.<id>.<pid>   present while that script of change <id> runs (undos and the timer wait for it)
//   abandoned.<id>    fleet gave change <id> up before the host recorded it: it is never to be made
//   lock/owner        the change holding the host, and until when
// Renames are the synchronisation: whoever moves armed/<id> away first (the confirmation, the
// timer, or an undo from fleet) decides the outcome, so two of them never both act.
// Every write is checked (a full disk, a read-only /var): iptables-save ignores write errors, so
// its output goes through the shell, which does not.
import { createHash } from 'node:crypto'
import { BUILTIN_CHAINS } from '../render/ruleset.ts'
import type { Change } from '../plan/change.ts'
import type { CommandTask } from '../roles/types.ts'
import { quote } from '../shell/quote.ts'
import { encoded } from './step.ts'

export const STATE_DIR = '/var/lib/fleet'
export const EXIT_BUSY = 20
export const EXIT_CONFLICT = 21
// The confirmation came too late: the timer (or an undo) had already claimed the change.
export const EXIT_TOO_LATE = 22
// Nothing was undone: the change had already settled; its status and reason are printed.
export const EXIT_SETTLED = 23
// Restoring the saved ruleset failed; the timer, if it was armed, stays armed.
export const EXIT_RESTORE_FAILED = 24
// Nothing was undone yet: a script of the change still runs (a slow load); ask again later.
export const EXIT_STILL_RUNNING = 26
// A file fleet must write could not be written (full disk, read-only file system).
export const EXIT_NO_WRITE = 25

const MANAGED_TABLES = Object.keys(BUILTIN_CHAINS).join('|')
// How long a load or restore waits for the xtables lock.
export const XTABLES_WAIT_SEC = 30

// What an undo of a change needs of it: its host settings, and which way it made them.
export type Undoing = Pick<Change, 'commands' | 'action'>
const NOTHING_TO_SET_BACK: Undoing = { commands: [], action: 'apply' }

// Shell functions that the scripts changing a host start with, bound to one change id and to what
// its undo sets back.
export function prelude(id: string, change: Undoing = NOTHING_TO_SET_BACK): string {
  return `ID=${id}
S=${STATE_DIR}
fleet_field() { sed -n "s/^$1=//p" "$S/history/$ID" 2>/dev/null; }
fleet_status() {
  e=$(sed "s/^status=.*/status=$1/" "$S/history/$ID") || return 1
  [ -z "\${2:-}" ] || e="$e
reason=$2"
  # Replaced whole; on a full disk, rewritten in place (it has room for what it frees).
  { printf '%s\\n' "$e" > "$S/history/.$ID" && mv "$S/history/.$ID" "$S/history/$ID"; } 2>/dev/null || { rm -f "$S/history/.$ID"; printf '%s\\n' "$e" > "$S/history/$ID"; }
}
fleet_release() { [ "$(sed -n 's/^id=//p' "$S/lock/owner" 2>/dev/null)" != "$ID" ] || rm -rf "$S/lock"; }
fleet_claim() { mv "$S/armed/$ID" "$S/armed/$ID.$1" 2>/dev/null; }
fleet_stop_timer() {
  if [ -f "$S/armed/$ID.unit" ]; then systemctl stop "$(cat "$S/armed/$ID.unit")" 2>/dev/null
  elif [ -f "$S/armed/$ID.pid" ]; then kill -- -"$(cat "$S/armed/$ID.pid")" 2>/dev/null
  elif [ -n "\${TPID:-}" ]; then kill -- -"$TPID" 2>/dev/null; fi
  rm -f "$S/armed/$ID" "$S/armed/$ID".*
}
fleet_fail() { echo "$2" >&2; fleet_claim off; fleet_stop_timer; fleet_status failed "$2"; fleet_release; exit "$1"; }
# A ruleset as one line per managed table: the tables fleet does not manage (security, a table
# another tool keeps) may change meanwhile without making a restore a failed one.
fleet_norm() { grep -v -e '^#' -e '^$' | sed 's/ \\[[0-9]*:[0-9]*\\]$//' | awk '/^[*]/ { if (t != "") print t; t = $0; next } { t = t "|" $0 } END { if (t != "") print t }' | grep -E '^[*](${MANAGED_TABLES})([|]|$)' | sort; }
fleet_live_is() { [ "$($1 | fleet_norm)" = "$(fleet_norm < "$2")" ]; }
# Both families are restored before either is checked: one that fails must not leave the other new.
# A restore waits for the xtables lock (which iptables-legacy takes, and waits for forever without
# -w) for ${XTABLES_WAIT_SEC}s at most: the timer must not hang behind a stuck iptables.
fleet_restore_rules() {
  fleet_r=0
  iptables-restore -w ${XTABLES_WAIT_SEC} "$S/saved/$ID.v4" || fleet_r=1
  [ ! -f "$S/saved/$ID.v6" ] || ip6tables-restore -w ${XTABLES_WAIT_SEC} "$S/saved/$ID.v6" || fleet_r=1
  [ $fleet_r = 0 ] && fleet_live_is iptables-save "$S/saved/$ID.v4" &&
  { [ ! -f "$S/saved/$ID.v6" ] || fleet_live_is ip6tables-save "$S/saved/$ID.v6"; }
}
# The undo goes the reverse way of the change. An apply made its settings after its rules, so they
# go back first (forwarding off before the rules that filtered it go); a rollback set them back
# before its rules, so they are made again last, and only over the rules restored whole.
${change.action === 'rollback' ? 'fleet_restore_saved() { fleet_restore_rules && fleet_undo_settings; }' : 'fleet_restore_saved() { fleet_undo_settings; fleet_restore_rules; }'}
${settingsUndo(change.commands)}
# This script is at work for the change: busy.<id>.<pid> holds the boot and the moment it started.
fleet_busy() {
  fleet_boot; fleet_start_of $$
  { printf '%s %s\\n' "$fb" "$fs" > "$S/busy.$ID.$$"; } 2>/dev/null && trap 'rm -f "$S/busy.$ID.$$"' EXIT && return
  rm -f "$S/busy.$ID.$$"; return 1
}
fleet_wait() { i=0; while [ -e "$1" ] && [ $i -lt $2 ]; do sleep 1; i=$((i + 1)); done; }
${SCRIPT_RUNNING}
# Waits up to $1 seconds while a script of this change runs; fails if one still does. An undo that
# went ahead while the change's load still ran would be overtaken by it: the host would keep the
# new rulesets with nothing left to undo them.
fleet_wait_idle() { e=$(($(date +%s) + $1)); while fleet_script_running "$ID" && [ "$(date +%s)" -lt $e ]; do sleep 1; done; ! fleet_script_running "$ID"; }`
}

// A host setting's name on the host, stable while its check is (its records outlive the role's
// order and titles: a rollback finds them by it).
export function settingKey(setting: Pick<CommandTask, 'check'>): string {
  return createHash('sha256').update(setting.check).digest('hex').slice(0, 16)
}

// The file that keeps what a setting of change $ID was before the change made it.
export const settingRecord = (setting: Pick<CommandTask, 'check'>) => `"$S/saved/$ID.setting-${settingKey(setting)}"`

// A role's command, bounded: a setting's check or undo that hangs must not hang the timer.
const SETTING_SEC = 20
const bounded = (command: string) => `timeout ${SETTING_SEC} sh -c ${quote(command)}`

// Sets back the host settings the change made, last first. The value each had before is in its
// record, written just before the change made it, and reaches the role's undo command on its stdin
// (data, never code). A setting is set back only if the change changed it and it still holds what
// the change made it (an undo that runs twice, or a value someone changed since, is left alone).
// One the role keeps (undo: 'keep'), or whose undo fails, stays as it is; fleet_kept_note says
// which, and fleet_unset names the failed ones: the rulesets' restore is judged on its own.
function settingsUndo(settings: readonly CommandTask[]): string {
  const each = settings
    .map((c) => {
      const record = settingRecord(c)
      const keep = (list: string) => `${list}="$${list}\${${list}:+, }"${quote(c.title)}`
      const undo = c.undo === undefined ? keep('fleet_kept') : `${bounded(c.undo)} < ${record} >/dev/null || ${keep('fleet_unset')}`
      return `  if [ -f ${record} ] && [ "$(cat ${record})" != ${quote(c.want)} ] && [ "$(${bounded(c.check)})" = ${quote(c.want)} ]; then ${undo}; fi`
    })
    .reverse()
  // fleet_kept_note reads the lists with defaults: an undo that never reached the settings names none.
  return `fleet_undo_settings() {
  fleet_kept=''; fleet_unset=''
${each.join('\n')}${each.length > 0 ? '\n' : ''}  true
}
fleet_kept_note() {
  [ -z "\${fleet_kept:-}" ] || printf '; host settings the role keeps as changed: %s' "$fleet_kept"
  [ -z "\${fleet_unset:-}" ] || printf '; host settings that could not be set back (their undo failed): %s' "$fleet_unset"
}`
}

// Whether a script of change $1 other than this one runs: each holds busy.<id>.<pid>, with the boot
// it ran in and the moment its process started (a pid reused by another process, or from another
// boot, holds nothing; so does the file of a script that was killed, which dash leaves behind).
// Scripts never outlive the remote timeout (they run under timeout(1)), which bounds every wait on
// them.
// Shell builtins only (these run in every wait loop and every script: no process per call). The
// start time is field 22 of /proc/<pid>/stat, counted after the command name, which may hold blanks.
const SCRIPT_RUNNING = `fleet_boot() { fb=''; { read -r fb < /proc/sys/kernel/random/boot_id; } 2>/dev/null; }
fleet_start_of() { fs=''; { read -r l < "/proc/$1/stat"; } 2>/dev/null || return 1; l=\${l##*) }; set -- $l; fs=\${20:-}; }
fleet_script_running() {
  fleet_boot
  for f in "$S/busy.$1".*; do
    p=\${f##*.}
    [ -f "$f" ] && [ "$p" != $$ ] || continue
    { read -r b t < "$f"; } 2>/dev/null && [ "$b" = "$fb" ] && [ -n "$t" ] && fleet_start_of "$p" && [ "$t" = "$fs" ] && return 0
  done
  return 1
}`

// Whether change $1 is still at work on the host: its timer runs (a transient unit that is active,
// or a process that is its timer's script), or a script of it does. A timer that is gone (killed,
// the host rebooted) holds nothing.
const CHANGE_RUNNING = `fleet_timer_running() {
  if [ -f "$S/armed/$1.unit" ]; then systemctl is-active --quiet "$(cat "$S/armed/$1.unit")" 2>/dev/null
  else lp=$(cat "$S/armed/$1.pid" 2>/dev/null) && [ -n "$lp" ] && { tr '\\0' ' ' < "/proc/$lp/cmdline"; } 2>/dev/null | grep -qF "armed/$1.sh"; fi
}
fleet_running() { fleet_script_running "$1" || fleet_timer_running "$1"; }`

// The lock's owner, and whether the lock is stale: past its expiry (or ownerless for more than a
// minute), and its change no longer at work. Expiry is wall-clock time, which can jump (an NTP
// step, a resumed VM) while the timer sleeps on the monotonic clock: a run that took over the lock
// of a change whose timer still runs would be undone by that timer, so a live change keeps it.
const LOCK_STATE = `${CHANGE_RUNNING}
lock_field() { sed -n "s/^$1=//p" "$S/lock/owner" 2>/dev/null; }
# A lock past its expiry holds only while its change is at work: then no time can be promised.
lock_until() {
  if [ -n "$expires" ] && [ "$expires" -ge "$(date +%s)" ]; then echo "until $(date -u -d "@$expires" +%FT%TZ) at the latest"; else echo 'for as long as its change is at work there (its timer or a script of it runs)'; fi
}
lock_stale() {
  expires=$(lock_field expires); lo=$(lock_field id)
  { [ -z "$lo" ] || ! fleet_running "$lo"; } &&
  { { [ -n "$expires" ] && [ "$expires" -lt "$(date +%s)" ]; } || { [ -z "$expires" ] && [ -n "$(find "$S/lock" -maxdepth 0 -mmin +1 2>/dev/null)" ]; }; }
}`

// Read-only, for the facts step: the change in progress on the host, if any: the lock's owner
// while the lock holds, and every change whose timer still runs (armed=<id>).
export function changeInProgress(): string {
  return `S=${STATE_DIR}
${SCRIPT_RUNNING}
${LOCK_STATE}
if [ -d "$S/lock" ] && ! lock_stale; then
  printf 'id=%s\\nby=%s\\nsince=%s\\n' "$(lock_field id)" "$(lock_field by)" "$(lock_field since)"
  # A past expiry is no promise: the lock holds while its change is at work.
  [ -z "$expires" ] || [ "$expires" -lt "$(date +%s)" ] || echo "expires=$expires"
fi
for f in "$S"/armed/*.unit "$S"/armed/*.pid; do [ -f "$f" ] || continue; a=\${f##*/}; a=\${a%.*}; ! fleet_timer_running "$a" || echo "armed=$a"; done
true`
}

// The lock is a directory (mkdir is atomic). A lock past its expiry, or an ownerless one older
// than a minute (a run killed between mkdir and writing the owner), is taken over; taking over is
// itself locked (lock.break) and the lock judged stale again inside, so a run that read the same
// stale lock never removes the one another run has just taken.
export function takeLock(ttlSec: number, by: string): string {
  return `fleet_take_lock() {
  mkdir "$S/lock" 2>/dev/null || return 1
  printf 'id=%s\\nsince=%s\\nexpires=%s\\nby=%s\\n' "$ID" "$(date +%s)" "$(($(date +%s) + ${ttlSec}))" ${quote(by)} > "$S/lock/owner" && return 0
  rm -rf "$S/lock"; echo "cannot write $S/lock/owner (is the disk full, or read-only?); nothing changed" >&2; exit ${EXIT_NO_WRITE}
}
${LOCK_STATE}
lock_busy() {
  echo "busy: change $(lock_field id) by $(lock_field by) holds this host since $(date -u -d "@$(lock_field since)" +%FT%TZ), $(lock_until); nothing changed" >&2
  exit ${EXIT_BUSY}
}
if ! fleet_take_lock; then
  [ -z "$(find "$S/lock.break" -maxdepth 0 -mmin +1 2>/dev/null)" ] || rmdir "$S/lock.break" 2>/dev/null
  lock_stale && mkdir "$S/lock.break" 2>/dev/null || lock_busy
  if lock_stale; then rm -rf "$S/lock"; fi
  fleet_take_lock; took=$?
  rmdir "$S/lock.break"
  [ $took = 0 ] || lock_busy
fi`
}

// The change's entry in the history, numbered by the host (under the lock). Without a readable
// seq file, numbering goes on from the highest number in the history (pruning keeps fewer entries
// than numbers used, so their count would number a new change below the ones it follows).
export function recordChange(action: string, note: string, by: string): string {
  return `n=$(cat "$S/seq" 2>/dev/null); case $n in ''|*[!0-9]*) n=$({ sed -n 's/^seq=//p' "$S"/history/* 2>/dev/null; ls "$S/history" | wc -l; } | grep -x '[0-9]*' | sort -n | tail -n 1) ;; esac; n=$((n + 1))
{ printf '%s\\n' "$n" > "$S/seq" && printf 'id=%s\\nseq=%s\\ntime=%s\\naction=%s\\nstatus=pending\\nnote=%s\\nby=%s\\n' "$ID" "$n" "$(date -u +%FT%TZ)" ${action} ${quote(note)} ${quote(by)} > "$S/history/$ID"; } 2>/dev/null || {
  rm -f "$S/history/$ID"; fleet_release; echo "cannot write $S/history (is the disk full, or read-only?); nothing changed" >&2; exit ${EXIT_NO_WRITE}
}`
}

// Moves the lock's expiry to `ttlSec` from now (rewritten in place: no new space needed).
export function extendLock(ttlSec: number): string {
  return `fleet_extend() { o=$(sed "s/^expires=.*/expires=$(($(date +%s) + ${ttlSec}))/" "$S/lock/owner") && printf '%s\\n' "$o" > "$S/lock/owner"; }`
}

// The timer: unless confirmed within `seconds`, restore the saved ruleset, record why, free the
// host. A script of its own, run as a transient systemd unit where systemd runs the host (logind
// may kill what a session leaves behind), else detached with setsid; either way neither the SSH
// session ending nor fleet dying stops it. fleet_arm fails unless the timer is really running.
// It never acts while a script of the change still runs, for up to `scriptsWithinSec` (the longest
// a script can run): a load slower than the timeout would otherwise land after the restore. An
// undo from fleet holds armed/<id>.now while it restores; the timer waits for it, and takes over if
// it gives the claim back (its restore failed) or never finishes.
// `missing`: what the history says did not happen in time ("not confirmed").
export function armTimer(id: string, seconds: number, missing: string, scriptsWithinSec: number, change: Undoing): string {
  // Its text carries host data (a rollback's setting values, quoted), so it travels base64-encoded
  // like every document: no line of it can end a heredoc early.
  const timer = `${prelude(id, change)}
sleep ${seconds}
fleet_wait_idle ${scriptsWithinSec}
# An undo from fleet that holds the claim is a script of the change: it is waited for, and its claim
# taken over only once it is gone without giving it back.
fleet_claim fired || { fleet_wait_idle ${scriptsWithinSec}; fleet_claim fired || mv "$S/armed/$ID.now" "$S/armed/$ID.fired" 2>/dev/null; } || exit 0
if fleet_restore_saved; then
  fleet_status rolled-back ${quote(`${missing} within ${seconds}s; the host restored the previous ruleset`)}"$(fleet_kept_note)"
else
  fleet_status failed ${quote(`${missing} within ${seconds}s, and restoring the previous ruleset failed: the host may hold parts of both`)}"$(fleet_kept_note)"
fi
fleet_release
rm -f "$S/armed/$ID" "$S/armed/$ID".*
`
  return `fleet_arm() {
  mkdir -p "$S/armed" && ${encoded(timer)} > "$S/armed/$ID.sh" && date +%s > "$S/armed/$ID" || return 1
  if [ -d /run/systemd/system ] && systemd-run --quiet --collect --unit "fleet-timer-$ID" sh "$S/armed/$ID.sh" 2>/dev/null; then
    echo "fleet-timer-$ID" > "$S/armed/$ID.unit" && systemctl is-active --quiet "fleet-timer-$ID"
  else
    setsid sh "$S/armed/$ID.sh" </dev/null >/dev/null 2>&1 &
    TPID=$!
    echo "$TPID" > "$S/armed/$ID.pid" && kill -0 "$TPID"
  fi
}`
}

// Keeps the newest `keep` changes by the host's sequence (entries from before it count as 0,
// then by id); never the change in progress.
export function prune(keep: number): string {
  return `for f in "$S"/history/*; do [ -f "$f" ] || continue; k=$(sed -n 's/^seq=//p' "$f"); echo "\${k:-0} \${f##*/}"; done | sort -k1,1nr -k2,2r | tail -n +${keep + 1} | while read -r _ old; do
  [ "$old" = "$ID" ] || rm -f "$S/history/$old" "$S/saved/$old".v? "$S/saved/$old".setting-* "$S/applied/$old".v?
done
find "$S" -maxdepth 1 -name 'abandoned.*' -mmin +60 -exec rm -f {} + 2>/dev/null`
}

// A saved ruleset must restore every managed table: iptables-save omits tables the kernel does not
// have yet, and restoring such a file would leave fleet's rules in them. One command, checked.
export function completeTables(file: string): string {
  return Object.entries(BUILTIN_CHAINS)
    .map(([table, chains]) => {
      const body = [`*${table}`, ...chains.map((c) => `:${c} ACCEPT [0:0]`), 'COMMIT'].join('\\n')
      return `{ grep -q '^\\*${table}$' ${file} || printf '${body}\\n' >> ${file}; }`
    })
    .join(' && ')
}

// The ruleset as configuration, for noticing that it changed between two round trips.
export const LIVE_SUM = `{ iptables-save; ip6tables-save 2>/dev/null; } | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]$//' | cksum`
