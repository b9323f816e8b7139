// fleet's state on a host, under /var/lib/fleet, and the shell fragments that keep it:
//   history/<id>      one entry per change: id, time, action, status, what was applied, by whom
//   saved/<id>.v4     the ruleset that was live before change <id> (what a rollback restores)
//   applied/<id>.v4   the ruleset change <id> put in place
//   armed/<id>        present while change <id> waits for confirmation; its timer's pid beside it
//   lock/owner        the change holding the host, and until when
// Renames are the synchronisation: whoever moves armed/<id> away first (the confirmation or the
// timer) decides the outcome, so the two can never both act.
import { quote } from '../shell/quote.ts'

export const STATE_DIR = '/var/lib/fleet'
export const paths = {
  history: (id: string) => `${STATE_DIR}/history/${id}`,
  saved: (id: string) => `${STATE_DIR}/saved/${id}.v4`,
  applied: (id: string) => `${STATE_DIR}/applied/${id}.v4`,
  armed: (id: string) => `${STATE_DIR}/armed/${id}`,
  lock: `${STATE_DIR}/lock`,
}

export const EXIT_BUSY = 20
export const EXIT_CONFLICT = 21
export const EXIT_TOO_LATE = 22

export function setStatus(id: string, status: string, reason?: string): string {
  const append = reason ? ` && printf 'reason=%s\\n' ${quote(reason)} >> ${paths.history(id)}` : ''
  return `sed -i 's/^status=.*/status=${status}/' ${paths.history(id)}${append}`
}

// The lock is a directory (mkdir is atomic). A lock past its expiry, or an ownerless one older
// than a minute (a run killed between mkdir and writing the owner), is taken over.
export function takeLock(id: string, ttlSec: number, by: string): string {
  const owner = `${paths.lock}/owner`
  return `fleet_take_lock() {
  mkdir ${paths.lock} 2>/dev/null || return 1
  printf 'id=%s\\nsince=%s\\nexpires=%s\\nby=%s\\n' ${id} "$(date +%s)" "$(($(date +%s) + ${ttlSec}))" ${quote(by)} > ${owner}
}
if ! fleet_take_lock; then
  expires=$(sed -n 's/^expires=//p' ${owner} 2>/dev/null)
  if { [ -n "$expires" ] && [ "$expires" -lt "$(date +%s)" ]; } || { [ -z "$expires" ] && [ -n "$(find ${paths.lock} -maxdepth 0 -mmin +1)" ]; }; then
    mv ${paths.lock} ${paths.lock}.stale.$$ 2>/dev/null && rm -rf ${paths.lock}.stale.$$
    fleet_take_lock
  fi || {
    since=$(sed -n 's/^since=//p' ${owner} 2>/dev/null)
    echo "busy: change $(sed -n 's/^id=//p' ${owner}) by $(sed -n 's/^by=//p' ${owner}) holds this host since $(date -u -d "@\${since:-0}" +%FT%TZ), lock expires $(date -u -d "@\${expires:-0}" +%FT%TZ); nothing changed" >&2
    exit ${EXIT_BUSY}
  }
fi`
}

export function extendLock(ttlSec: number): string {
  return `sed -i "s/^expires=.*/expires=$(($(date +%s) + ${ttlSec}))/" ${paths.lock}/owner`
}

export function releaseLock(id: string): string {
  return `[ "$(sed -n 's/^id=//p' ${paths.lock}/owner 2>/dev/null)" != ${id} ] || rm -rf ${paths.lock}`
}

// What the timer runs if nobody confirms in time: restore the saved ruleset, record why, free
// the host. Detached with setsid, so neither the SSH session ending nor fleet dying stops it.
export function armTimer(id: string, seconds: number): string {
  const armed = paths.armed(id)
  const fire = [
    `sleep ${seconds}`,
    `mv ${armed} ${armed}.fired 2>/dev/null || exit 0`,
    `iptables-restore ${paths.saved(id)}`,
    setStatus(id, 'rolled-back', `not confirmed within ${seconds}s; the host restored the previous ruleset`),
    releaseLock(id),
    `rm -f ${armed}.fired ${armed}.pid`,
  ].join('\n')
  return [
    `mkdir -p ${STATE_DIR}/armed`,
    `date +%s > ${armed}`,
    `setsid sh -c ${quote(fire)} </dev/null >/dev/null 2>&1 &`,
    `echo $! > ${armed}.pid`,
  ].join('\n')
}

// Confirmation wins only if the timer has not fired: both race for the rename of armed/<id>.
export function disarmTimer(id: string, status: string): string {
  const armed = paths.armed(id)
  return `if mv ${armed} ${armed}.done 2>/dev/null; then
  kill -- -"$(cat ${armed}.pid)" 2>/dev/null
  rm -f ${armed}.done ${armed}.pid
  ${setStatus(id, status)}
  ${releaseLock(id)}
else
  echo 'too late: the timer has already restored the previous ruleset' >&2
  exit ${EXIT_TOO_LATE}
fi`
}

// Keeps the newest `keep` changes; ids sort by time.
export function prune(keep: number): string {
  return `ls -1 ${STATE_DIR}/history | sort -r | tail -n +${keep + 1} | while read -r old; do
  rm -f ${STATE_DIR}/history/"$old" ${STATE_DIR}/saved/"$old".v4 ${STATE_DIR}/applied/"$old".v4
done`
}

// A saved ruleset must restore every managed table: iptables-save omits tables the kernel does not
// have yet, and restoring such a file would leave fleet's rules in them.
export function completeTables(file: string, tables: Readonly<Record<string, readonly string[]>>): string {
  return Object.entries(tables)
    .map(([table, chains]) => {
      const body = [`*${table}`, ...chains.map((c) => `:${c} ACCEPT [0:0]`), 'COMMIT'].join('\\n')
      return `grep -q '^\\*${table}$' ${file} || printf '${body}\\n' >> ${file}`
    })
    .join('\n')
}

// The ruleset as configuration, for noticing that it changed between two round trips.
export const LIVE_SUM = `iptables-save | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]$//' | cksum`
