// One host's change: facts, compare in the kernel's normal form, then (only if needed) lock, save,
// test, load, verify, and confirm over a fresh connection before the host's timer undoes it.
// The only code that changes hosts; run-on-hosts.ts runs it on many in parallel.
//
// fleet reports only what it saw: when an answer from the host is lost, it asks the host what
// happened (settle), and where it cannot, the outcome is `unknown`.
import { managedTablesEqual, parseSave, UnreadableSave } from '../plan/normal-form.ts'
import { renderWithPreserved, splitPreserved } from '../plan/preserve.ts'
import { faultIs, killDuring, killNow } from '../remote/fault.ts'
import { EXIT_BUSY, EXIT_CONFLICT, EXIT_RESTORE_FAILED, EXIT_SETTLED, EXIT_STILL_RUNNING, EXIT_TOO_LATE, XTABLES_WAIT_SEC } from '../remote/host-state.ts'
import { changeStep, type ChangeSettings } from '../remote/change-script.ts'
import { confirmStep, finishStep, restoreNowStep, TIMER_ACTS_WITHIN_SEC } from '../remote/settle-scripts.ts'
import { parseSections } from '../remote/sections.ts'
import { HostError, type RemoteResult, type Session } from '../remote/transport.ts'
import type { HostDone, Outcome, RunEvent } from './events.ts'
import type { Change } from '../plan/change.ts'
import { busy, factsDiff, families, gatherFacts, heldBack, otherDifferences, othersReport, readSave, rulesetsEqual, type FamilyFacts, type HostFacts } from './host-facts.ts'

export interface HostRun {
  readonly session: Session
  // A new SSH connection (and a new jump connection) to the same host, for confirmation.
  readonly openFresh: (connectTimeoutMs: number) => Promise<Session>
  readonly settings: Omit<ChangeSettings, 'liveSum'>
  readonly emit: (e: RunEvent) => void
  readonly keepCopy: (changeId: string, saved: { v4: string; v6?: string }) => void
}

// How long after the timer's deadline fleet keeps trying to learn what a host did.
const SETTLE_MARGIN_SEC = 10
// A fresh connection must be made this long before the host's timer can fire (what the
// confirmation then needs to claim the change); with less than the minimum left, it does not start.
const CONFIRM_MARGIN_MS = 500
const MIN_CONNECT_MS = 500
// What an undo may take once nothing else of the change runs: the wait for the timer's own restore,
// a restore of each family (each waits for the xtables lock), host settings.
const UNDO_WORK_SEC = TIMER_ACTS_WITHIN_SEC + 2 * XTABLES_WAIT_SEC + 20

// A host without IPv6 is not an error: its change leaves ip6tables out. Chains the host preserves
// go into the documents as they are live now (a rollback too: not as they were when it was saved).
function forHost(change: Change, facts: HostFacts): Change {
  const merge = (document: string, f: FamilyFacts) => {
    const own = splitPreserved(readSave('the ruleset to load', document), change.host.preserve)
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
// Text that cannot be read verifies nothing.
function verified(facts: HostFacts, after: { v4: string; v6?: string }, patterns: readonly string[]): boolean {
  return families(facts).every((f) => {
    let saved
    try {
      saved = parseSave((f.family === 'ipv4' ? after.v4 : after.v6) ?? '')
    } catch (error) {
      if (error instanceof UnreadableSave) return false
      throw error
    }
    const back = splitPreserved(saved, patterns)
    return managedTablesEqual(back.kept, f.desired) && JSON.stringify([...back.preserved]) === JSON.stringify([...f.preserved])
  })
}

// An answer that never came: the connection broke, or the command ended without a status.
async function answered(run: Promise<RemoteResult>): Promise<RemoteResult | { lost: string }> {
  try {
    const result = await run
    return result.code === null ? { lost: 'the connection closed before the host answered' } : result
  } catch (error) {
    return { lost: (error as Error).message }
  }
}

export async function changeHost(run: HostRun, wanted: Change): Promise<HostDone> {
  const host = wanted.host.name
  const { session, settings, emit } = run
  const fault = settings.fault
  emit({ kind: 'step', host, step: 'reading the live ruleset' })
  killDuring(fault, ['read'])
  const facts = await gatherFacts(session, wanted, fault)
  const inProgress = busy(facts)
  if (inProgress !== undefined) throw new HostError(inProgress)
  const others = othersReport(facts)
  // An apply never reports success while other rules still filter the host's traffic.
  const held = heldBack(wanted, facts)
  if (held !== undefined) return { kind: 'host-done', host, outcome: 'failed', backend: facts.backend, detail: held, ...others }
  const change = forHost(wanted, facts)
  const rulesChange = !rulesetsEqual(facts)
  // Boot files that would load another ruleset are put right by a change like any other: the same
  // rulesets loaded again (atomically), confirmed, and persisted.
  const changedSettings = otherDifferences(facts, change)
  if (!rulesChange && changedSettings.length === 0) {
    return { kind: 'host-done', host, outcome: 'unchanged', backend: facts.backend, ...others }
  }
  const diff = rulesChange ? factsDiff(facts) : []
  const done: HostDone = { kind: 'host-done', host, outcome: 'changed', backend: facts.backend, diff, settings: changedSettings, changeId: settings.changeId, ...others }
  // The host arms its timer after this moment: it cannot fire before `fires`.
  const fires = Date.now() + settings.confirmSec * 1000
  const deadline = fires + SETTLE_MARGIN_SEC * 1000
  const settleAs = async (problem: string, undone: Outcome): Promise<HostDone> => {
    const { outcome, detail } = await settle(run, change, problem, undone, deadline)
    return { ...done, outcome, detail }
  }

  emit({ kind: 'step', host, step: 'loading the new ruleset' })
  killDuring(fault, ['lock', 'save', 'test', 'arm', 'load-raw', 'load6', 'settings'])
  const step = changeStep(change, { ...settings, liveSum: facts.liveSum })
  const result = await answered(session.run(step.script))
  if ('lost' in result) return settleAs(`the connection was lost during the change (${result.lost})`, 'failed')
  if (result.code === EXIT_BUSY || result.code === EXIT_CONFLICT) throw new HostError(result.stderr.trim())
  // The host recorded the change (its history has the id) and undid whatever it had done.
  if (result.code !== 0) return { ...done, outcome: 'failed', detail: result.stderr.trim() || `the change failed (exit ${result.code})` }
  const sections = parseSections(result.stdout, step.marks)
  const saved6 = sections.text.get('saved6')
  run.keepCopy(settings.changeId, { v4: sections.text.get('saved') ?? '', ...(saved6 !== undefined && { v6: saved6 }) })

  emit({ kind: 'step', host, step: 'verifying' })
  killNow(fault, 'verify')
  const after6 = sections.text.get('after6')
  if (faultIs(fault, 'verify', 'fail') || !verified(facts, { v4: sections.text.get('after') ?? '', ...(after6 !== undefined && { v6: after6 }) }, change.host.preserve)) {
    return settleAs('the ruleset read back differs from the one loaded', 'failed')
  }
  if (!settings.confirmFresh) {
    const problem = await finish(run, change)
    return problem === null ? done : settleAs(problem, 'failed')
  }
  emit({ kind: 'step', host, step: 'confirming over a fresh SSH connection' })
  const problem = await confirm(run, fires, change)
  if (problem === null) return done
  return settleAs(problem, 'rolled-back')
}

// Without confirmation: persist and record the change over the first connection. null when done.
async function finish(run: HostRun, change: Change): Promise<string | null> {
  const { fault, changeId, confirmSec } = run.settings
  killDuring(fault, ['persist', 'release'])
  const result = await answered(run.session.run(finishStep(changeId, change, fault, confirmSec).script))
  if ('lost' in result) return `the connection was lost while recording the change (${result.lost})`
  if (result.code === 0) return null
  if (result.code === EXIT_TOO_LATE) return "the change was finished after the host's timer had restored the previous ruleset"
  return result.stderr.trim() || `recording the change failed (exit ${result.code})`
}

// null when confirmed; otherwise why not, in words that say which step failed.
// `fires`: the earliest moment the host's timer can act, counted from before it was armed.
async function confirm(run: HostRun, fires: number, change: Change): Promise<string | null> {
  const { fault, confirmSec } = run.settings
  // Counted from the arming, not from now: the change itself (the load, slow host settings) has
  // used part of the time, and a connection that only succeeds after the timer fired is no use.
  const budgetMs = fires - CONFIRM_MARGIN_MS - Date.now()
  if (budgetMs < MIN_CONNECT_MS) {
    const tookSec = Math.round((Date.now() - (fires - confirmSec * 1000)) / 1000)
    return `the change took ${tookSec}s of the ${confirmSec}s before the host's timer acts: too little was left to confirm over a fresh connection (raise --confirm-timeout)`
  }
  let fresh: Session | undefined
  try {
    if (faultIs(fault, 'confirm', 'fail')) throw new HostError('FLEET_FAULT confirm:fail')
    fresh = await openedWithin(run.openFresh(budgetMs), budgetMs)
  } catch (error) {
    return `no fresh SSH connection could be made with the new ruleset (${(error as Error).message})`
  }
  try {
    killDuring(fault, ['confirm', 'persist', 'release'])
    const result = await answered(fresh.run(confirmStep(run.settings.changeId, change, fault, confirmSec).script, { timeoutSec: 10 }))
    killNow(fault, 'reply')
    if (faultIs(fault, 'reply', 'lose-reply')) return 'the reply to the confirmation was lost (FLEET_FAULT)'
    if ('lost' in result) return `the reply to the confirmation was lost (${result.lost})`
    if (result.code === 0) return null
    if (result.code === EXIT_TOO_LATE) return 'the confirmation came after the timer had restored the previous ruleset'
    return `the confirmation failed: ${result.stderr.trim()}`
  } finally {
    fresh.close()
  }
}

// Each hop of a fresh connection (the jump host, the channel, the host) has `ms` on its own; the
// whole connection must not take longer either. A session that opens too late is closed.
async function openedWithin(opening: Promise<Session>, ms: number): Promise<Session> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      opening.then((s) => s.close(), () => {})
      reject(new HostError(`no connection within ${(ms / 1000).toFixed(1)}s`))
    }, ms)
  })
  try {
    return await Promise.race([opening, late])
  } finally {
    clearTimeout(timer)
  }
}

// After a problem: undo the change now if it is still undone-able, or learn how the host settled
// it. Over the first session if it still works, otherwise over fresh connections until the timer's
// deadline (plus a margin) has passed; then the outcome is unknown. While a script of the change
// still runs on the host (a load that goes on after the connection dropped), the host undoes
// nothing, and fleet asks again.
async function settle(run: HostRun, change: Change, problem: string, undone: Outcome, deadline: number): Promise<{ outcome: Outcome; detail: string }> {
  const remainingSec = () => Math.max(5, Math.min(40, Math.ceil((deadline - Date.now()) / 1000)))
  // Why the host has not settled the change yet, when it said so: fleet asks again.
  let notYet: string | undefined
  const attempt = async (session: Session) => {
    const waitSec = remainingSec()
    const step = restoreNowStep(run.settings.changeId, change, problem, waitSec, run.settings.fault)
    const result = await answered(session.run(step.script, { timeoutSec: waitSec + UNDO_WORK_SEC }))
    if ('lost' in result) return undefined
    const text = parseSections(result.stdout, step.marks).text
    const record = text.get('settled') ?? ''
    notYet =
      result.code === EXIT_STILL_RUNNING
        ? 'a script of the change still ran on the host when fleet stopped waiting (a slow load, or its confirmation); how the change ends is up to the host (its timer undoes it unless confirmed)'
        : result.code === EXIT_SETTLED && /^status=pending$/m.test(record)
          ? "the change was still pending on the host (fleet could not undo it itself; its timer undoes it unless confirmed)"
          : undefined
    return notYet ? undefined : settled(result, record, problem, undone, { kept: text.get('kept') ?? '', unset: text.get('unset') ?? '' })
  }
  const first = await attempt(run.session)
  if (first) return first
  // At least one fresh connection, even past the deadline: a connection that broke may have been
  // noticed only late, while the host is there to ask.
  do {
    let fresh: Session | undefined
    try {
      fresh = await run.openFresh(Math.min(5000, Math.max(1000, deadline - Date.now())))
      const outcome = await attempt(fresh)
      if (outcome) return outcome
    } catch {
      await new Promise((r) => setTimeout(r, 1000))
    } finally {
      fresh?.close()
    }
  } while (Date.now() < deadline)
  const why = notYet ?? 'the host could not be reached again to learn what it did'
  return { outcome: 'unknown', detail: `${problem}; ${why}: see \`fleet history\` for this change` }
}

// `record`: the host's record of the change, when it had already settled it; `left`: the host
// settings the undo left as the change made them (`kept` says all of them, as the history does;
// `unset`: those whose undo failed, so the host is not as it was).
function settled(result: RemoteResult, record: string, problem: string, undone: Outcome, left: { kept: string; unset: string }): { outcome: Outcome; detail: string } {
  if (result.code === 0) return { outcome: left.unset.trim() === '' ? undone : 'failed', detail: `${problem}; the previous ruleset was restored${left.kept.trim()}` }
  if (result.code === EXIT_RESTORE_FAILED) return { outcome: 'failed', detail: `${problem}; ${result.stderr.trim()}` }
  if (result.code !== EXIT_SETTLED) return { outcome: 'failed', detail: `${problem}; undoing it failed too (exit ${result.code}): ${result.stderr.trim()}` }
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(record)?.[1] ?? ''
  const status = field('status')
  const reason = field('reason')
  switch (status) {
    case 'confirmed':
    case 'applied':
      return { outcome: 'changed', detail: `${problem}, but the host had recorded the change as ${status}: it stands` }
    case 'rolled-back':
      return { outcome: 'rolled-back', detail: `${problem}; ${reason || 'the previous ruleset was restored'}` }
    case 'failed':
      return { outcome: 'failed', detail: `${problem}; ${reason}` }
    case '':
      return { outcome: 'failed', detail: `${problem}; the change never reached the host's history: nothing changed` }
    default:
      return { outcome: 'unknown', detail: `${problem}; the host records the change as ${status}: see \`fleet history\`` }
  }
}
