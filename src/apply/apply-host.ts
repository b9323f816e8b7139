// One host's change: facts, compare in the kernel's normal form, then (only if needed) lock, save,
// test, load, verify, and confirm over a fresh connection before the host's timer undoes it.
// With apply/run.ts, the only code that changes hosts.
import { diffRulesets, type DiffEntry } from '../plan/diff.ts'
import { managedTablesEqual, parseSave, type SavedRuleset } from '../plan/normal-form.ts'
import { EXIT_TOO_LATE } from '../remote/host-state.ts'
import { changeStep, confirmStep, factsStep, restoreNowStep, type ChangeSettings } from '../remote/scripts.ts'
import { parseSections, type Sections } from '../remote/sections.ts'
import { HostError, type Session } from '../remote/transport.ts'
import type { HostDone, RunEvent } from '../report/events.ts'
import type { Change } from './change.ts'

export interface HostFacts {
  readonly backend: string
  readonly live: SavedRuleset
  readonly liveSum: string
  readonly desired: SavedRuleset
  // Present when the change manages IPv6 and the host has it.
  readonly v6?: { readonly live: SavedRuleset; readonly desired: SavedRuleset }
  // Indexes of the change's host settings that differ from what it wants.
  readonly settingsToChange: readonly number[]
}

export function readFacts(change: Change, sections: Sections): HostFacts {
  const text = (name: string) => sections.text.get(name) ?? ''
  if (sections.status.get('live') !== 0) throw new HostError(`iptables-save failed: ${text('live').trim() || 'is iptables installed?'}`)
  if (sections.status.get('desired') !== 0) {
    throw new HostError(`the host's iptables rejects the new ruleset, nothing changed: ${restoreError(text('desired'), change.document)}`)
  }
  const v6 = change.document6 !== undefined && text('ipv6').trim() === 'yes'
  if (v6 && sections.status.get('desired6') !== 0) {
    throw new HostError(`the host's ip6tables rejects the new IPv6 ruleset, nothing changed: ${restoreError(text('desired6'), change.document6!)}`)
  }
  return {
    backend: /\((nf_tables|legacy)\)/.exec(text('backend'))?.[1] ?? 'unknown',
    live: parseSave(text('live')),
    liveSum: text('live-sum').trim(),
    desired: parseSave(text('desired')),
    ...(v6 && { v6: { live: parseSave(text('live6')), desired: parseSave(text('desired6')) } }),
    settingsToChange: change.commands.flatMap((c, i) => (text(`check-${i}`).trim() === c.want ? [] : [i])),
  }
}

// iptables-restore's complaint on one line, with the offending line of the document quoted.
export function restoreError(output: string, document: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('Try `iptables-restore'))
  return lines
    .map((l) => {
      const at = /^Error occurred at line: (\d+)$/.exec(l)
      return at ? `at line ${at[1]}: ${document.split('\n')[Number(at[1]) - 1] ?? '?'}` : l
    })
    .join('; ')
}

export async function gatherFacts(session: Session, change: Change): Promise<HostFacts> {
  const result = await session.run(factsStep(change).script)
  if (result.code !== 0) throw new HostError(`reading facts failed (exit ${result.code}): ${result.stderr.trim()}`)
  return readFacts(change, parseSections(result.stdout))
}

export interface HostRun {
  readonly session: Session
  // A new SSH connection (and a new jump connection) to the same host, for confirmation.
  readonly openFresh: (connectTimeoutMs: number) => Promise<Session>
  readonly settings: Omit<ChangeSettings, 'liveSum'>
  readonly emit: (e: RunEvent) => void
  readonly keepCopy: (changeId: string, saved: { v4: string; v6?: string }) => void
}

// What differs between the live rulesets and the change's, both families.
export function factsDiff(facts: HostFacts): DiffEntry[] {
  return [...diffRulesets(facts.live, facts.desired), ...(facts.v6 ? diffRulesets(facts.v6.live, facts.v6.desired, 'ipv6') : [])]
}

export function rulesetsEqual(facts: HostFacts): boolean {
  return managedTablesEqual(facts.live, facts.desired) && (!facts.v6 || managedTablesEqual(facts.v6.live, facts.v6.desired))
}

// A host without IPv6 is not an error: its change leaves ip6tables out.
function forHost(change: Change, facts: HostFacts): Change {
  if (facts.v6 || change.document6 === undefined) return change
  const { document6: _none, ...v4only } = change
  return v4only
}

export async function changeHost(run: HostRun, wanted: Change): Promise<HostDone> {
  const host = wanted.host.name
  const { session, settings, emit } = run
  emit({ kind: 'step', host, step: 'reading the live ruleset' })
  const facts = await gatherFacts(session, wanted)
  const change = forHost(wanted, facts)
  const rulesChange = !rulesetsEqual(facts)
  if (!rulesChange && facts.settingsToChange.length === 0) {
    return { kind: 'host-done', host, outcome: 'unchanged', backend: facts.backend }
  }
  const diff = rulesChange ? factsDiff(facts) : []
  const changedSettings = facts.settingsToChange.map((i) => change.commands[i]!.title)
  emit({ kind: 'step', host, step: 'loading the new ruleset' })
  const result = await session.run(changeStep(change, { ...settings, liveSum: facts.liveSum }).script)
  if (result.code !== 0) throw new HostError(result.stderr.trim() || `the change failed (exit ${result.code})`)
  const sections = parseSections(result.stdout)
  const saved6 = sections.text.get('saved6')
  run.keepCopy(settings.changeId, { v4: sections.text.get('saved') ?? '', ...(saved6 !== undefined && { v6: saved6 }) })

  emit({ kind: 'step', host, step: 'verifying' })
  const after = parseSave(sections.text.get('after') ?? '')
  const after6 = parseSave(sections.text.get('after6') ?? '')
  if (!managedTablesEqual(after, facts.desired) || (facts.v6 && !managedTablesEqual(after6, facts.v6.desired))) {
    const reason = 'the ruleset read back differs from the one loaded'
    await session.run(restoreNowStep(settings.changeId, reason).script)
    throw new HostError(`${reason}; the previous ruleset was restored`)
  }
  const done: HostDone = { kind: 'host-done', host, outcome: 'changed', backend: facts.backend, diff, settings: changedSettings, changeId: settings.changeId }
  if (settings.confirmSec === null) return done
  emit({ kind: 'step', host, step: 'confirming over a fresh SSH connection' })
  const problem = await confirm(run, settings.confirmSec)
  if (problem === null) return done
  return { ...done, outcome: 'rolled-back', detail: await undo(run, problem, settings.confirmSec) }
}

// null when confirmed; otherwise why not.
async function confirm(run: HostRun, confirmSec: number): Promise<string | null> {
  let fresh: Session | undefined
  try {
    // Leave the timer a margin: a connection that only succeeds after it fired is no use.
    fresh = await run.openFresh(Math.max(1000, confirmSec * 1000 - 2000))
    const result = await fresh.run(confirmStep(run.settings.changeId).script, { timeoutSec: 10 })
    if (result.code === 0) return null
    if (result.code === EXIT_TOO_LATE) return 'the confirmation came after the timer had restored the previous ruleset'
    return `the confirmation failed: ${result.stderr.trim()}`
  } catch (error) {
    return `no fresh SSH connection could be made with the new ruleset (${(error as Error).message})`
  } finally {
    fresh?.close()
  }
}

// Restore right away over the first session if it still works; otherwise the host's timer does.
async function undo(run: HostRun, problem: string, confirmSec: number): Promise<string> {
  try {
    const result = await run.session.run(restoreNowStep(run.settings.changeId, problem).script, { timeoutSec: 5 })
    if (result.code === 0) return `${problem}; the previous ruleset was restored`
  } catch {
    // The first session is cut too: the timer on the host is what restores it.
  }
  return `${problem}; the host's timer restores the previous ruleset within ${confirmSec}s of the change`
}
