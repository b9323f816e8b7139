// One host's apply: facts, compare in the kernel's normal form, then (only if needed) save, test,
// load, set host settings, read back and verify. The only code that changes a host.
import { managedTablesEqual, parseSave, type SavedRuleset } from '../plan/normal-form.ts'
import { diffRulesets } from '../plan/diff.ts'
import type { Baseline } from '../roles/baseline.ts'
import { applyStep, factsStep, restoreSavedStep } from '../remote/scripts.ts'
import { parseSections, type Sections } from '../remote/sections.ts'
import { HostError, type Session } from '../remote/transport.ts'
import type { HostDone, RunEvent } from '../report/events.ts'

export interface HostFacts {
  readonly backend: string
  readonly live: SavedRuleset
  readonly desired: SavedRuleset
  // Indexes of the baseline's host settings that differ from what the role wants.
  readonly settingsToChange: readonly number[]
}

export function readFacts(baseline: Baseline, sections: Sections): HostFacts {
  const text = (name: string) => sections.text.get(name) ?? ''
  if (sections.status.get('live') !== 0) throw new HostError(`iptables-save failed: ${text('live').trim() || 'is iptables installed?'}`)
  if (sections.status.get('desired') !== 0) {
    throw new HostError(`the host's iptables rejects the baseline, nothing changed: ${text('desired').trim()}`)
  }
  return {
    backend: /\((nf_tables|legacy)\)/.exec(text('backend'))?.[1] ?? 'unknown',
    live: parseSave(text('live')),
    desired: parseSave(text('desired')),
    settingsToChange: baseline.commands.flatMap((c, i) => (text(`check-${i}`).trim() === c.want ? [] : [i])),
  }
}

export async function gatherFacts(session: Session, baseline: Baseline): Promise<HostFacts> {
  const result = await session.run(factsStep(baseline).script)
  if (result.code !== 0) throw new HostError(`reading facts failed (exit ${result.code}): ${result.stderr.trim()}`)
  return readFacts(baseline, parseSections(result.stdout))
}

export async function applyHost(
  session: Session,
  baseline: Baseline,
  changeId: string,
  emit: (e: RunEvent) => void,
): Promise<HostDone> {
  const host = baseline.host.name
  emit({ kind: 'step', host, step: 'reading the live ruleset' })
  const facts = await gatherFacts(session, baseline)
  const rulesChange = !managedTablesEqual(facts.live, facts.desired)
  if (!rulesChange && facts.settingsToChange.length === 0) {
    return { kind: 'host-done', host, outcome: 'unchanged', backend: facts.backend }
  }
  const changes = [
    ...(rulesChange ? diffRulesets(facts.live, facts.desired).map(String) : []),
    ...facts.settingsToChange.map((i) => baseline.commands[i]!.title),
  ]
  emit({ kind: 'step', host, step: 'loading the baseline' })
  const result = await session.run(applyStep(baseline, changeId).script)
  if (result.code !== 0) throw new HostError(result.stderr.trim() || `apply failed (exit ${result.code})`)
  emit({ kind: 'step', host, step: 'verifying' })
  const after = parseSave(parseSections(result.stdout).text.get('after') ?? '')
  if (!managedTablesEqual(after, facts.desired)) {
    await session.run(restoreSavedStep(changeId).script)
    throw new HostError('the ruleset read back differs from the baseline; the previous ruleset was restored')
  }
  return { kind: 'host-done', host, outcome: 'changed', backend: facts.backend, changes }
}
