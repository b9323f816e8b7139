// The shell scripts fleet runs on a host, as pure functions of the change. The same text is what
// `--dry-run` prints and what the SSH transport sends (on stdin, to `sh -s`), so the dry run shows
// exactly what would run. Scripts are POSIX sh: Debian's /bin/sh is dash.
import type { Change } from '../apply/change.ts'
import { quote } from '../shell/quote.ts'
import { armTimer, completeTables, EXIT_CONFLICT, EXIT_TOO_LATE, extendLock, LIVE_SUM, prelude, prune, STATE_DIR, takeLock } from './host-state.ts'
import { section } from './sections.ts'

const EOF_MARK = 'FLEET_RULESET_EOF'

export interface Step {
  readonly title: string
  readonly script: string
}

function heredoc(command: string, document: string): string {
  return `${command} <<'${EOF_MARK}'\n${document}${document.endsWith('\n') ? '' : '\n'}${EOF_MARK}`
}

// What else filters traffic (src/plan/other-firewalls.ts): the other iptables backend's tables,
// native nftables, and whether nftables.service may flush the persisted rulesets at boot.
const otherFirewallSections = [
  'o=legacy; case "$(iptables -V 2>&1)" in *legacy*) o=nft;; esac',
  section('other4', 'iptables-$o-save 2>/dev/null'),
  section('other6', 'ip6tables-$o-save 2>/dev/null'),
  section('nft', '! command -v nft >/dev/null || nft -j -t list ruleset 2>/dev/null'),
  section(
    'boot',
    `[ ! -d /run/systemd/system ] || for u in nftables netfilter-persistent; do echo "$u=$(systemctl is-enabled $u.service 2>/dev/null)"; done
! grep -Eqs '^[[:space:]]*flush[[:space:]]+ruleset' /etc/nftables.conf || echo flush=yes`,
  ),
]

// Read-only: the live rulesets, the change's rulesets as this host's own iptables normalises them
// (loaded into a throwaway network namespace, so nothing live is touched), each host setting.
export function factsStep(change: Change): Step {
  const parts = [
    section('backend', 'iptables -V 2>&1'),
    section('live', 'iptables-save 2>&1'),
    section('live-sum', LIVE_SUM),
    section('desired', heredoc(`unshare --net sh -c 'iptables-restore 2>&1 && iptables-save 2>&1'`, change.document)),
    ...(change.document6 !== undefined
      ? [
          section('ipv6', '[ -e /proc/net/if_inet6 ] && echo yes || echo no'),
          section('live6', 'ip6tables-save 2>&1'),
          section('desired6', heredoc(`unshare --net sh -c 'ip6tables-restore 2>&1 && ip6tables-save 2>&1'`, change.document6)),
        ]
      : []),
    ...change.commands.map((c, i) => section(`check-${i}`, `${c.check} 2>&1`)),
    ...otherFirewallSections,
  ]
  return { title: 'read the live rulesets and the new ones in their normal form', script: parts.join('\n') }
}

export interface ChangeSettings {
  readonly changeId: string
  // Seconds the host waits for confirmation before restoring; null: no confirmation.
  readonly confirmSec: number | null
  readonly keep: number
  // Who is changing the host, for the lock and the history ("alice@laptop").
  readonly by: string
  // The live rulesets' checksum when they were read: if it moved since, another run got there first.
  readonly liveSum: string
  // The longest a change script can run (the remote timeout): the lock expires after it.
  readonly lockTtlSec: number
}

// Locks the host, saves the live rulesets, checks the new ones with --test, arms the timer that
// undoes them unless confirmed, loads each in one restore (all tables or none; IPv4, then IPv6,
// and IPv4 put back if IPv6 fails), makes the host settings, and prints the result for
// verification. Stops at the first failure.
export function changeStep(change: Change, s: ChangeSettings): Step {
  const armed = s.confirmSec !== null
  const v6 = change.document6 !== undefined
  const lines = [
    'set -u',
    'umask 077',
    // If the operator's connection drops mid-way, finish rather than stop half done; the timer,
    // armed before anything changes, undoes a change nobody confirms.
    "trap '' HUP PIPE",
    prelude(s.changeId),
    'mkdir -p "$S/history" "$S/saved" "$S/applied"',
    takeLock(s.lockTtlSec, s.by),
    `[ "$(${LIVE_SUM})" = ${quote(s.liveSum)} ] || { echo 'the ruleset changed since fleet read it (another run or a hand edit); nothing changed, run again' >&2; fleet_release; exit ${EXIT_CONFLICT}; }`,
    `printf 'id=%s\\ntime=%s\\naction=%s\\nstatus=pending\\nnote=%s\\nby=%s\\n' "$ID" "$(date -u +%FT%TZ)" ${change.action} ${quote(change.note)} ${quote(s.by)} > "$S/history/$ID"`,
    `iptables-save > "$S/saved/$ID.v4" || fleet_fail 10 'cannot save the live ruleset; nothing changed'`,
    completeTables('"$S/saved/$ID.v4"'),
    heredoc('cat > "$S/applied/$ID.v4"', change.document),
    ...(v6
      ? [
          `ip6tables-save > "$S/saved/$ID.v6" || fleet_fail 10 'cannot save the live IPv6 ruleset; nothing changed'`,
          completeTables('"$S/saved/$ID.v6"'),
          heredoc('cat > "$S/applied/$ID.v6"', change.document6!),
        ]
      : []),
    prune(s.keep),
    `iptables-restore --test "$S/applied/$ID.v4" || fleet_fail 11 'iptables-restore --test rejected the ruleset; nothing changed'`,
    ...(v6 ? [`ip6tables-restore --test "$S/applied/$ID.v6" || fleet_fail 11 'ip6tables-restore --test rejected the IPv6 ruleset; nothing changed'`] : []),
    ...(armed ? [armTimer(s.changeId, s.confirmSec), extendLock(s.confirmSec + 30)] : []),
    `iptables-restore "$S/applied/$ID.v4" || fleet_fail 12 'iptables-restore rejected the ruleset; nothing changed'`,
    ...(v6
      ? [`ip6tables-restore "$S/applied/$ID.v6" || { iptables-restore "$S/saved/$ID.v4"; fleet_fail 12 'ip6tables-restore rejected the IPv6 ruleset; nothing changed'; }`]
      : []),
    // A host setting that cannot be made undoes the rulesets too: the change is all or nothing.
    ...change.commands.map(
      (c) =>
        `[ "$(${c.check})" = ${quote(c.want)} ] || ${c.run} || { fleet_restore_saved; fleet_fail 13 ${quote(`failed: ${c.title}; the previous ruleset was restored`)}; }`,
    ),
    ...(armed ? [] : [...(change.host.persist ? [persist(change)] : []), 'fleet_status applied', 'fleet_release']),
    section('after', 'iptables-save'),
    section('saved', 'cat "$S/saved/$ID.v4"'),
    ...(v6 ? [section('after6', 'ip6tables-save'), section('saved6', 'cat "$S/saved/$ID.v6"')] : []),
  ]
  const confirm = armed ? `, arm a ${s.confirmSec}s timer that restores it unless confirmed` : ''
  return { title: `lock, save the live ruleset, check and load the new one${confirm}`, script: lines.join('\n') }
}

// Run over a fresh SSH connection: proves the new ruleset still admits the operator. Whoever
// renames armed/<id> first, this or the timer, decides.
export function confirmStep(changeId: string, change: Change): Step {
  return {
    title: `confirm over a fresh SSH connection${change.host.persist ? ', then persist the rulesets for boot' : ''}`,
    script: [
      prelude(changeId),
      `fleet_disarm done || { echo 'too late: the timer has already restored the previous ruleset' >&2; exit ${EXIT_TOO_LATE}; }`,
      ...(change.host.persist ? [persist(change)] : []),
      'fleet_status confirmed',
      'fleet_release',
    ].join('\n'),
  }
}

// Where netfilter-persistent restores from at boot. Written only once a change is confirmed (or
// applied without confirmation), replaced atomically, so a reboot never brings back a ruleset
// that locked the operator out.
function persist(change: Change): string {
  const write = (save: string, file: string) => `${save} > ${file}.fleet-new && mv ${file}.fleet-new ${file}`
  return [
    'mkdir -p /etc/iptables',
    `${write('iptables-save', '/etc/iptables/rules.v4')} || echo 'could not write /etc/iptables/rules.v4' >&2`,
    ...(change.document6 !== undefined ? [`${write('ip6tables-save', '/etc/iptables/rules.v6')} || echo 'could not write /etc/iptables/rules.v6' >&2`] : []),
  ].join('\n')
}

// Undo now, rather than wait for the timer (verification failed, or confirmation could not be made
// while the first session still works).
export function restoreNowStep(changeId: string, reason: string): Step {
  return {
    title: 'restore the ruleset saved before the change',
    script: `${prelude(changeId)}
fleet_disarm now
fleet_restore_saved || exit 1
fleet_status rolled-back ${quote(reason)}
fleet_release`,
  }
}

// Every history entry, for `fleet history` and for choosing what a rollback restores.
export function historyStep(): Step {
  return {
    title: 'read the change history',
    script: `for f in $(ls -1 ${STATE_DIR}/history 2>/dev/null | sort); do
  echo '@@fleet entry'; cat ${STATE_DIR}/history/"$f"; [ ! -f ${STATE_DIR}/saved/"$f".v4 ] || echo has_saved=yes
done`,
  }
}

export function readSavedStep(changeId: string): Step {
  return {
    title: `read the rulesets saved before ${changeId}`,
    script: [
      section('saved', `cat ${STATE_DIR}/saved/${changeId}.v4`),
      `[ ! -f ${STATE_DIR}/saved/${changeId}.v6 ] || { ${section('saved6', `cat ${STATE_DIR}/saved/${changeId}.v6`)}; }`,
    ].join('\n'),
  }
}
