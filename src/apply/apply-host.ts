// One host's change: facts, compare in the kernel's normal form, then (only if needed) lock, save,
// test, load, verify, and confirm over a fresh connection before the host's timer undoes it.
// The only code that changes hosts; run-on-hosts.ts runs it on many in parallel.
import { managedTablesEqual, parseSave } from '../plan/normal-form.ts'
import { refusal } from '../plan/other-firewalls.ts'
import { renderWithPreserved, splitPreserved } from '../plan/preserve.ts'
import { EXIT_TOO_LATE } from '../remote/host-state.ts'
import { changeStep, confirmStep, restoreNowStep, type ChangeSettings } from '../remote/scripts.ts'
import { parseSections } from '../remote/sections.ts'
import { HostError, type Session } from '../remote/transport.ts'
import type { HostDone, RunEvent } from '../report/events.ts'
import type { Change } from './change.ts'
import { factsDiff, families, gatherFacts, othersReport, rulesetsEqual, type FamilyFacts, type HostFacts } from './host-facts.ts'

export interface HostRun {
  readonly session: Session
  // A new SSH connection (and a new jump connection) to the same host, for confirmation.
  readonly openFresh: (connectTimeoutMs: number) => Promise<Session>
  readonly settings: Omit<ChangeSettings, 'liveSum'>
  readonly emit: (e: RunEvent) => void
  readonly keepCopy: (changeId: string, saved: { v4: string; v6?: string }) => void
}

// A host without IPv6 is not an error: its change leaves ip6tables out. Chains the host preserves
// go into the documents as they are live now (a rollback too: not as they were when it was saved).
function forHost(change: Change, facts: HostFacts): Change {
  const merge = (document: string, f: FamilyFacts) => {
    const own = splitPreserved(parseSave(document), change.host.preserve)
    if (f.preserved.size === 0 && own.preserved.size === 0) return document
    return renderWithPreserved(own.kept, f.preserved, `${change.note} for ${change.host.name}, with the chains it preserves`)
  }
  const { document6, ...rest } = change
  return {
    ...rest,
    document: merge(change.document, facts.v4),
    ...(facts.v6 && document6 !== undefined && { document6: merge(document6, facts.v6) }),
  }
}

// The rulesets read back after the load: fleet's part as wanted, preserved chains as they were.
function verified(facts: HostFacts, after: { v4: string; v6?: string }, patterns: readonly string[]): boolean {
  return families(facts).every((f) => {
    const back = splitPreserved(parseSave((f.family === 'ipv4' ? after.v4 : after.v6) ?? ''), patterns)
    return managedTablesEqual(back.kept, f.desired) && JSON.stringify([...back.preserved]) === JSON.stringify([...f.preserved])
  })
}

export async function changeHost(run: HostRun, wanted: Change): Promise<HostDone> {
  const host = wanted.host.name
  const { session, settings, emit } = run
  emit({ kind: 'step', host, step: 'reading the live ruleset' })
  const facts = await gatherFacts(session, wanted)
  const others = othersReport(facts)
  // An apply never reports success while other rules still filter the host's traffic, unless the
  // inventory says to go ahead. A rollback goes back to what was, so it is never held up.
  if (facts.others.length > 0 && wanted.action === 'apply' && wanted.host.otherFirewalls !== 'proceed') {
    return { kind: 'host-done', host, outcome: 'failed', backend: facts.backend, detail: refusal(facts.others), ...others }
  }
  const change = forHost(wanted, facts)
  const rulesChange = !rulesetsEqual(facts)
  if (!rulesChange && facts.settingsToChange.length === 0) {
    return { kind: 'host-done', host, outcome: 'unchanged', backend: facts.backend, ...others }
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
  const after6 = sections.text.get('after6')
  if (!verified(facts, { v4: sections.text.get('after') ?? '', ...(after6 !== undefined && { v6: after6 }) }, change.host.preserve)) {
    const reason = 'the ruleset read back differs from the one loaded'
    await session.run(restoreNowStep(settings.changeId, reason).script)
    throw new HostError(`${reason}; the previous ruleset was restored`)
  }
  const done: HostDone = { kind: 'host-done', host, outcome: 'changed', backend: facts.backend, diff, settings: changedSettings, changeId: settings.changeId, ...others }
  if (settings.confirmSec === null) return done
  emit({ kind: 'step', host, step: 'confirming over a fresh SSH connection' })
  const problem = await confirm(run, settings.confirmSec, change)
  if (problem === null) return done
  return { ...done, outcome: 'rolled-back', detail: await undo(run, problem, settings.confirmSec) }
}

// null when confirmed; otherwise why not.
async function confirm(run: HostRun, confirmSec: number, change: Change): Promise<string | null> {
  let fresh: Session | undefined
  try {
    // Leave the timer a margin: a connection that only succeeds after it fired is no use.
    fresh = await run.openFresh(Math.max(1000, confirmSec * 1000 - 2000))
    const result = await fresh.run(confirmStep(run.settings.changeId, change).script, { timeoutSec: 10 })
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
