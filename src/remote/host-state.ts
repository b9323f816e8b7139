// fleet's state on a host, under /var/lib/fleet, and the shell that keeps it:
//   history/<id>      one entry per change: id, time, action, status, what was applied, by whom
//   saved/<id>.v4     the ruleset that was live before change <id> (what a rollback restores)
//   applied/<id>.v4   the ruleset change <id> put in place
//   armed/<id>        present while change <id> waits for confirmation; its timer's script and pid beside it
//   lock/owner        the change holding the host, and until when
// Renames are the synchronisation: whoever moves armed/<id> away first (the confirmation or the
// timer) decides the outcome, so the two can never both act.
import { BUILTIN_CHAINS } from '../render/ruleset.ts'
import { quote } from '../shell/quote.ts'

export const STATE_DIR = '/var/lib/fleet'
export const EXIT_BUSY = 20
export const EXIT_CONFLICT = 21
export const EXIT_TOO_LATE = 22

// Shell functions that the scripts changing a host start with, bound to one change id.
export function prelude(id: string): string {
  return `ID=${id}
S=${STATE_DIR}
fleet_status() { sed -i "s/^status=.*/status=$1/" "$S/history/$ID"; [ -z "\${2:-}" ] || printf 'reason=%s\\n' "$2" >> "$S/history/$ID"; }
fleet_release() { [ "$(sed -n 's/^id=//p' "$S/lock/owner" 2>/dev/null)" != "$ID" ] || rm -rf "$S/lock"; }
fleet_disarm() {
  mv "$S/armed/$ID" "$S/armed/$ID.$1" 2>/dev/null || return 1
  if [ -f "$S/armed/$ID.unit" ]; then systemctl stop "$(cat "$S/armed/$ID.unit")" 2>/dev/null; else kill -- -"$(cat "$S/armed/$ID.pid")" 2>/dev/null; fi
  rm -f "$S/armed/$ID".*
}
fleet_fail() { echo "$2" >&2; fleet_disarm off; fleet_status failed "$2"; fleet_release; exit "$1"; }
fleet_restore_saved() { iptables-restore "$S/saved/$ID.v4" && { [ ! -f "$S/saved/$ID.v6" ] || ip6tables-restore "$S/saved/$ID.v6"; }; }`
}

// The lock is a directory (mkdir is atomic). A lock past its expiry, or an ownerless one older
// than a minute (a run killed between mkdir and writing the owner), is taken over.
export function takeLock(ttlSec: number, by: string): string {
  return `fleet_take_lock() {
  mkdir "$S/lock" 2>/dev/null || return 1
  printf 'id=%s\\nsince=%s\\nexpires=%s\\nby=%s\\n' "$ID" "$(date +%s)" "$(($(date +%s) + ${ttlSec}))" ${quote(by)} > "$S/lock/owner"
}
lock_field() { sed -n "s/^$1=//p" "$S/lock/owner" 2>/dev/null; }
if ! fleet_take_lock; then
  expires=$(lock_field expires)
  if { [ -n "$expires" ] && [ "$expires" -lt "$(date +%s)" ]; } || { [ -z "$expires" ] && [ -n "$(find "$S/lock" -maxdepth 0 -mmin +1)" ]; }; then
    mv "$S/lock" "$S/lock.stale.$$" 2>/dev/null && rm -rf "$S/lock.stale.$$"
  fi
  fleet_take_lock || {
    echo "busy: change $(lock_field id) by $(lock_field by) holds this host since $(date -u -d "@$(lock_field since)" +%FT%TZ), until $(date -u -d "@\${expires:-0}" +%FT%TZ) at the latest; nothing changed" >&2
    exit ${EXIT_BUSY}
  }
fi`
}

export function extendLock(ttlSec: number): string {
  return `sed -i "s/^expires=.*/expires=$(($(date +%s) + ${ttlSec}))/" "$S/lock/owner"`
}

// The timer: unless confirmed within `seconds`, restore the saved ruleset, record why, free the
// host. A script of its own, run as a transient systemd unit where systemd runs the host (logind
// may kill what a session leaves behind), else detached with setsid; either way neither the SSH
// session ending nor fleet dying stops it.
export function armTimer(id: string, seconds: number): string {
  return `mkdir -p "$S/armed"
cat > "$S/armed/$ID.sh" <<'FLEET_TIMER_EOF'
${prelude(id)}
sleep ${seconds}
mv "$S/armed/$ID" "$S/armed/$ID.fired" 2>/dev/null || exit 0
fleet_restore_saved
fleet_status rolled-back 'not confirmed within ${seconds}s; the host restored the previous ruleset'
fleet_release
rm -f "$S/armed/$ID".*
FLEET_TIMER_EOF
date +%s > "$S/armed/$ID"
if [ -d /run/systemd/system ] && systemd-run --quiet --collect --unit "fleet-timer-$ID" sh "$S/armed/$ID.sh" 2>/dev/null; then
  echo "fleet-timer-$ID" > "$S/armed/$ID.unit"
else
  setsid sh "$S/armed/$ID.sh" </dev/null >/dev/null 2>&1 &
  echo $! > "$S/armed/$ID.pid"
fi`
}

// Keeps the newest `keep` changes; ids sort by time.
export function prune(keep: number): string {
  return `ls -1 "$S/history" | sort -r | tail -n +${keep + 1} | while read -r old; do
  rm -f "$S/history/$old" "$S/saved/$old".v? "$S/applied/$old".v?
done`
}

// A saved ruleset must restore every managed table: iptables-save omits tables the kernel does not
// have yet, and restoring such a file would leave fleet's rules in them.
export function completeTables(file: string): string {
  return Object.entries(BUILTIN_CHAINS)
    .map(([table, chains]) => {
      const body = [`*${table}`, ...chains.map((c) => `:${c} ACCEPT [0:0]`), 'COMMIT'].join('\\n')
      return `grep -q '^\\*${table}$' ${file} || printf '${body}\\n' >> ${file}`
    })
    .join('\n')
}

// The ruleset as configuration, for noticing that it changed between two round trips.
export const LIVE_SUM = `{ iptables-save; ip6tables-save 2>/dev/null; } | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]$//' | cksum`
