// The terminal display's model: a host's role tasks are done once the step that loads them is
// over (or at once when the host is already at its baseline); the overall line counts outcomes.
import { describe, expect, it } from 'vitest'
import type { RunEvent } from '../../src/apply/events.ts'
import { nextProgress, overallLine, type HostProgress } from '../../src/report/progress.ts'

const run = (events: readonly RunEvent[]): HostProgress => events.reduce<HostProgress>((s, e) => nextProgress(s, e), { phase: 'waiting' })
const step = (s: string): RunEvent => ({ kind: 'step', host: 'h', step: s })
const START: RunEvent = { kind: 'host-start', host: 'h' }
const tasksDone = (s: HostProgress) => s.phase !== 'waiting' && s.tasksDone

describe('when a host shows its role tasks done', () => {
  it.each([
    ['while reading', [START, step('connecting'), step('reading the live ruleset')], false],
    ['while loading', [START, step('reading the live ruleset'), step('loading the new ruleset')], false],
    ['once the load is over', [START, step('loading the new ruleset'), step('verifying')], true],
    ['still, while confirming', [START, step('loading the new ruleset'), step('verifying'), step('confirming over a fresh SSH connection')], true],
    ['already at its baseline', [START, step('reading the live ruleset'), { kind: 'host-done', host: 'h', outcome: 'unchanged' }], true],
    ['failed while reading', [START, step('reading the live ruleset'), { kind: 'host-done', host: 'h', outcome: 'failed', detail: 'x' }], false],
    ['failed while loading', [START, step('loading the new ruleset'), { kind: 'host-done', host: 'h', outcome: 'failed', detail: 'x' }], false],
    ['changed without confirmation', [START, step('loading the new ruleset'), step('verifying'), { kind: 'host-done', host: 'h', outcome: 'changed' }], true],
  ] as const)('%s', (_name, events, done) => {
    expect(tasksDone(run(events))).toBe(done)
  })
})

describe('the overall line', () => {
  it('counts hosts done per outcome, running, and the time', () => {
    const states: HostProgress[] = [
      run([START, { kind: 'host-done', host: 'a', outcome: 'changed' }]),
      run([START, { kind: 'host-done', host: 'b', outcome: 'failed', detail: 'x' }]),
      run([START, { kind: 'host-done', host: 'c', outcome: 'rolled-back', detail: 'x' }]),
      run([START, step('connecting')]),
      { phase: 'waiting' },
    ]
    expect(overallLine(states, 'applied', 62_500)).toBe('3 of 5 hosts applied: 1 changed, 0 unchanged, 1 failed, 1 rolled back; 1 running; 1:02')
    expect(overallLine([], 'audited', 0)).toBe('0 of 0 hosts audited: 0 in sync, 0 drift, 0 failed; 0 running; 0:00')
  })
})
