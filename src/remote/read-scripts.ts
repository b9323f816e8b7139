// The read-only scripts: what a host holds (facts), its history, a saved ruleset.
import type { Change } from '../plan/change.ts'
import { quote } from '../shell/quote.ts'
import { faultIs, hostHook, type Fault } from './fault.ts'
import { changeInProgress, LIVE_SUM, STATE_DIR } from './host-state.ts'
import { newMarks, section, type Marks } from './sections.ts'
import { documentsOf, encoded, type ReadStep, type Step } from './step.ts'

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
    // What a reboot would load (netfilter-persistent), where the host is to keep its rulesets.
    ...(change.host.persist
      ? [section(marks, 'boot4', 'cat /etc/iptables/rules.v4'), ...(change.document6 !== undefined ? [section(marks, 'boot6', 'cat /etc/iptables/rules.v6')] : [])]
      : []),
    ...otherFirewallSections(marks),
    // A change another run has in progress (its timer may yet undo what is live).
    section(marks, 'pending', changeInProgress()),
  ].filter((p) => p !== '')
  return { title: 'read the live rulesets and the new ones in their normal form', script: parts.join('\n'), documents: documentsOf(change), marks }
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
