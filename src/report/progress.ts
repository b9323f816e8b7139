// The live state of a run, per host, as the terminal display shows it: pure, fed by RunEvents.
// A host's role tasks are carried by the step that changes the host (the one atomic load, with
// the host settings): they are done once that step is over, or at once when the host was found
// already at its baseline.
import { summarize, type HostDone, type Outcome, type RunEvent } from '../apply/events.ts'

// apply-host.ts's step that loads the ruleset and makes the host settings.
export const LOAD_STEP = 'loading the new ruleset'

export type HostProgress =
  | { readonly phase: 'waiting' }
  | { readonly phase: 'running'; readonly step: string; readonly loading: boolean; readonly tasksDone: boolean }
  | { readonly phase: 'done'; readonly done: HostDone; readonly tasksDone: boolean }

export function nextProgress(state: HostProgress, e: RunEvent): HostProgress {
  switch (e.kind) {
    case 'host-start':
      return { phase: 'running', step: 'starting', loading: false, tasksDone: false }
    case 'step': {
      const before = state.phase === 'running' ? state : { loading: false, tasksDone: false }
      const loading = e.step === LOAD_STEP
      return { phase: 'running', step: e.step, loading, tasksDone: before.tasksDone || (before.loading && !loading) }
    }
    case 'host-done': {
      const carried = state.phase === 'running' && (state.tasksDone || state.loading)
      const tasksDone = e.outcome === 'unchanged' || e.outcome === 'in-sync' || (carried && (e.outcome === 'changed' || e.outcome === 'rolled-back'))
      return { phase: 'done', done: e, tasksDone }
    }
  }
}

// What the overall line counts, per command: the outcomes people look for, even at 0.
const SHOWN: Record<string, readonly Outcome[]> = {
  applied: ['changed', 'unchanged', 'failed'],
  'rolled back': ['changed', 'unchanged', 'failed'],
  audited: ['in-sync', 'drift', 'failed'],
}

export function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

// "37 of 500 hosts done: 30 changed, 5 unchanged, 2 failed; 8 running; 0:42"
export function overallLine(states: Iterable<HostProgress>, verb: string, elapsedMs: number): string {
  const all = [...states]
  const done = all.flatMap((s) => (s.phase === 'done' ? [s.done] : []))
  const running = all.filter((s) => s.phase === 'running').length
  const counts = summarize(done)
  const shown = SHOWN[verb] ?? []
  const outcomes = (Object.keys(counts) as Outcome[]).filter((o) => shown.includes(o) || counts[o] > 0)
  outcomes.sort((a, b) => (shown.indexOf(a) + 1 || 99) - (shown.indexOf(b) + 1 || 99))
  const parts = outcomes.map((o) => `${counts[o]} ${o.replace('-', ' ')}`).join(', ')
  return `${done.length} of ${all.length} hosts ${verb}: ${parts}; ${running} running; ${elapsed(elapsedMs)}`
}
