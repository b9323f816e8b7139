// The shell scripts fleet runs on a host, as pure functions of the baseline. The same text is
// what `--dry-run` prints and what the SSH transport sends (on stdin, to `sh -s`), so the dry run
// shows exactly what would run. Scripts are POSIX sh: Debian's /bin/sh is dash.
import type { Baseline } from '../roles/baseline.ts'
import { MANAGED_TABLES, BUILTIN_CHAINS } from '../render/ruleset.ts'
import { quote } from '../shell/quote.ts'
import { section } from './sections.ts'

export const STATE_DIR = '/var/lib/fleet'
const EOF_MARK = 'FLEET_RULESET_EOF'

export interface Step {
  readonly title: string
  readonly script: string
}

function heredoc(command: string, document: string): string {
  return `${command} <<'${EOF_MARK}'\n${document}${document.endsWith('\n') ? '' : '\n'}${EOF_MARK}`
}

// Read-only: the live ruleset, the baseline as this host's own iptables normalises it (loaded
// into a throwaway network namespace, so nothing live is touched), and each host setting.
export function factsStep(baseline: Baseline): Step {
  const parts = [
    section('backend', 'iptables -V 2>&1'),
    section('live', 'iptables-save 2>&1'),
    section('desired', heredoc(`unshare --net sh -c 'iptables-restore 2>&1 && iptables-save 2>&1'`, baseline.document)),
    ...baseline.commands.map((c, i) => section(`check-${i}`, `${c.check} 2>&1`)),
  ]
  return { title: 'read the live ruleset and the baseline in its normal form', script: parts.join('\n') }
}

// A saved ruleset must restore every managed table: iptables-save omits tables the kernel does not
// have yet, and restoring such a file would leave fleet's rules in them.
function completeSavedTables(file: string): string {
  return MANAGED_TABLES.map((table) => {
    const chains = BUILTIN_CHAINS[table].map((c) => `:${c} ACCEPT [0:0]`).join('\\n')
    return `grep -q '^\\*${table}$' ${file} || printf '*${table}\\n${chains}\\nCOMMIT\\n' >> ${file}`
  }).join('\n')
}

// Saves the live ruleset, checks the baseline with --test, loads it in one iptables-restore, runs
// the host settings, then prints the result for verification. Stops at the first failure; a
// failed restore changes nothing (iptables-restore commits all tables or none).
export function applyStep(baseline: Baseline, changeId: string): Step {
  const saved = `${STATE_DIR}/saved/${changeId}.v4`
  const pending = `${STATE_DIR}/pending.v4`
  const lines = [
    'set -u',
    'umask 077',
    `mkdir -p ${STATE_DIR}/saved`,
    `iptables-save > ${saved} || { echo 'cannot save the live ruleset' >&2; exit 10; }`,
    completeSavedTables(saved),
    heredoc(`cat > ${pending}`, baseline.document),
    `iptables-restore --test ${pending} || { echo 'iptables-restore --test rejected the baseline; nothing changed' >&2; exit 11; }`,
    `iptables-restore ${pending} || { echo 'iptables-restore rejected the baseline; nothing changed' >&2; exit 12; }`,
    ...baseline.commands.map(
      (c) => `[ "$(${c.check})" = ${quote(c.want)} ] || ${c.run} || { echo ${quote(`failed: ${c.title}`)} >&2; exit 13; }`,
    ),
    section('after', 'iptables-save'),
  ]
  return { title: 'save the live ruleset, then check and load the baseline', script: lines.join('\n') }
}

// Puts a saved ruleset back (used when verification after a load fails).
export function restoreSavedStep(changeId: string): Step {
  return {
    title: 'restore the ruleset saved before the change',
    script: `iptables-restore ${STATE_DIR}/saved/${changeId}.v4`,
  }
}
